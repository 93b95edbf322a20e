# The two commands a new user needs:
#   make serve   install the server and start it on embedded stores (http://127.0.0.1:9099)
#   make test    install what the tests need and run lint + the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint install-server install-test oidc-provider bench vendor clean

$(BIN)/python:
	@echo "rexwatch: creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.server-installed: pyproject.toml | $(BIN)/python
	@echo "rexwatch: installing the server into $(VENV) (the first time takes a minute or two)"
	@$(BIN)/pip install --quiet -e '.[server]'
	@touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	@echo "rexwatch: installing the server and test tools into $(VENV)"
	@$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.server-installed

install-server: $(VENV)/.server-installed
install-test: $(VENV)/.test-installed

# The OpenID Connect provider the single sign-on tests run (npm's oidc-provider, pinned by the lock file).
tests/oidc/node_modules/.installed: tests/oidc/package.json tests/oidc/package-lock.json
	@echo "rexwatch: installing the test OIDC provider (npm ci in tests/oidc)"
	@npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
	@touch $@

oidc-provider: tests/oidc/node_modules/.installed

serve: install-server
	@$(BIN)/rexwatch server $(ARGS)

lint: install-test
	$(BIN)/ruff check src tests bench scripts

test: install-test lint oidc-provider
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# Refresh the browser assets under src/rexwatch/web/static/vendor/ (needs npm); commit the result.
vendor: | $(BIN)/python
	$(BIN)/python scripts/vendor.py $(PACKAGES)

bench: install-test
	$(BIN)/python bench/bench_server.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache
