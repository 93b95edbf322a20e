"""Run a test app: ``python serve.py fastapi|flask|django PORT`` (uvicorn, or werkzeug's threaded server)."""

from __future__ import annotations

import sys

kind, port = sys.argv[1], int(sys.argv[2])
if kind == "fastapi":
    import uvicorn

    # A long keep-alive: on a loaded machine the default 5 s can close a connection the test is reusing.
    uvicorn.run("fastapi_app:app", host="127.0.0.1", port=port, log_level="warning", access_log=False,
                timeout_keep_alive=120)
else:
    import logging

    from werkzeug.serving import run_simple

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its access lines duplicate the SDK's
    module = __import__(f"{kind}_app")
    wsgi = module.app if kind == "flask" else module.application
    run_simple("127.0.0.1", port, wsgi, threaded=True)
