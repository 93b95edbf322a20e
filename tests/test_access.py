"""The role matrix on every door: each REST route, each AWS operation, the console and the intake.

The walk is over what the app really serves (its route table and the AWS handler registry), so
a route or operation added later is checked without anyone remembering to list it here.
"""

from __future__ import annotations

import importlib
import json

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from rexwatch.api.app import create_app
from rexwatch.aws import SERVICE_MODULES
from rexwatch.aws.door import EC2_VERSION, QUERY_VERSIONS, REST_PATHS, TARGET_PREFIXES
from rexwatch.aws.registry import HANDLERS
from rexwatch.services.access import ACTIONS, ROLE_ACTIONS, Principal, aws_action, console_action, rest_action

# Who is asked, as (role, scope).
CALLERS = [("viewer", None), ("editor", None), ("admin", None), ("editor", "ingest"), ("admin", "read")]
OPEN = {"/api/v1/docs", "/api/v1/openapi.json"}


@pytest.fixture
def secured(runtime):
    runtime.settings.auth = "on"
    with TestClient(create_app(runtime, run_workers=False), raise_server_exceptions=False) as c:
        yield c


def _keys(runtime) -> dict[tuple[str, str | None], dict[str, str]]:
    return {(role, scope): {"Authorization": "Bearer " + runtime.keys.create(f"{role}-{scope}", role=role,
                                                                             scope=scope).token}
            for role, scope in CALLERS}


def api_routes(routes, prefix: str = ""):
    """(full path, route) of every API route, through included routers."""
    from fastapi.routing import _IncludedRouter

    for r in routes:
        if isinstance(r, _IncludedRouter):
            yield from api_routes(r.original_router.routes, prefix + r.include_context.prefix)
        elif isinstance(r, APIRoute):
            yield prefix + r.path, r


def _allowed(role: str, scope: str | None, action: str) -> bool:
    return Principal("key", "t", role, scope, key_prefix="t").may(action)


def test_role_table_covers_every_action():
    assert set(ROLE_ACTIONS["admin"]) == set(ACTIONS)
    assert ROLE_ACTIONS["viewer"] < ROLE_ACTIONS["editor"] < ROLE_ACTIONS["admin"]
    assert not _allowed("viewer", None, "secrets") and not _allowed("editor", None, "admin")
    assert not _allowed("admin", "ingest", "read") and not _allowed("admin", "read", "ingest")


def test_every_rest_route_enforces_the_matrix(runtime, secured):
    keys = _keys(runtime)
    routes = [(p, r) for p, r in api_routes(secured.app.routes) if p.startswith("/api/") and p not in OPEN]
    assert len(routes) > 100  # the walk really covers the API
    checked = 0
    for template, route in routes:
        path = template.replace("{", "").replace("}", "")  # any value: the check comes first
        for method in sorted(route.methods - {"HEAD"}):
            action = rest_action(method, template)
            assert action in ACTIONS
            for (role, scope), headers in keys.items():
                if _allowed(role, scope, action) and method != "GET":
                    continue  # allowed writes would change state; their refusals are what matter here
                r = secured.request(method, path, headers=headers)
                if _allowed(role, scope, action):
                    assert r.status_code != 403, (role, scope, method, template, r.text)
                else:
                    assert r.status_code == 403, (role, scope, method, template, r.status_code)
                    assert role in r.text
                checked += 1
    assert checked > 300


def _aws_request(client: TestClient, service: str, op: str, headers: dict[str, str]):
    """An empty request for ``op`` in the protocol the door knows the service by."""
    rest = next((path for path, (svc, _, name) in REST_PATHS.items() if svc == service and name == op), None)
    if rest:
        return client.post(rest, content=b"{}", headers={**headers, "content-type": "application/json"})
    version = EC2_VERSION if service == "ec2" else next(
        (v for v, (svc, _) in QUERY_VERSIONS.items() if svc == service), None)
    if version:
        return client.post("/", content=f"Action={op}&Version={version}".encode(),
                           headers={**headers, "content-type": "application/x-www-form-urlencoded"})
    prefix = next(p for p, (svc, _) in TARGET_PREFIXES.items() if svc == service)
    return client.post("/", content=b"{}", headers={**headers, "x-amz-target": f"{prefix}.{op}",
                                                    "content-type": "application/x-amz-json-1.1"})


def test_every_aws_operation_enforces_the_matrix(runtime, secured):
    for dotted in SERVICE_MODULES:
        importlib.import_module(dotted)
    keys = _keys(runtime)
    ops = sorted(HANDLERS)
    assert len(ops) > 50
    for service, op in ops:
        action = aws_action(service, op)
        for (role, scope), headers in keys.items():
            if _allowed(role, scope, action):
                continue
            r = _aws_request(secured, service, op, headers)
            assert r.status_code in (400, 403), (role, scope, service, op, r.status_code, r.text)
            assert "AccessDenied" in r.text or "AuthorizationError" in r.text or "UnauthorizedOperation" in r.text, \
                (service, op, r.text)


def test_aws_keys_follow_their_role_over_sigv4(runtime, live):
    runtime.settings.auth = "on"
    viewer = runtime.keys.create("grafana", aws=True, role="viewer")
    c = live.boto3_client("logs", aws_access_key_id=viewer.access_key_id,
                          aws_secret_access_key=viewer.secret_access_key)
    assert c.describe_log_groups()["logGroups"] == []
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as e:
        c.create_log_group(logGroupName="/nope")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "role 'viewer'" in e.value.response["Error"]["Message"]


def test_ingest_only_key_sends_but_cannot_read_read_only_key_reads_but_cannot_send(runtime, secured):
    ingest = {"Authorization": "Bearer " + runtime.keys.create("agent", role="editor", scope="ingest").token}
    read = {"Authorization": "Bearer " + runtime.keys.create("grafana", role="admin", scope="read").token}
    otlp = {"content-type": "application/x-protobuf"}
    # OTLP and remote_write: the intake's own door.
    assert secured.post("/v1/logs", content=b"", headers={**ingest, **otlp}).status_code == 200
    r = secured.post("/v1/logs", content=b"", headers={**read, **otlp})
    assert r.status_code == 403 and "scope 'read'" in r.text
    # REST: data in, nothing out.
    events = {"log_group": "/app", "log_stream": "s", "events": [{"timestamp": 1, "message": "x"}]}
    assert secured.post("/api/v1/logs/events", json=events, headers=ingest).status_code != 403
    assert secured.get("/api/v1/logs/groups", headers=ingest).status_code == 403
    assert secured.get("/api/v1/logs/groups", headers=read).status_code == 200
    assert secured.post("/api/v1/logs/events", json=events, headers=read).status_code == 403
    # The console: a read-only key may look, an ingest key may not.
    assert secured.get("/alarms", headers=read).status_code == 200
    assert secured.get("/alarms", headers=ingest).status_code == 403


def test_console_forms_need_editor(runtime, secured):
    viewer = {"Authorization": "Bearer " + runtime.keys.create("v", role="viewer").token}
    r = secured.post("/alarms-action", data={"csrf": "x", "name": "a", "action": "ack"}, headers=viewer)
    assert r.status_code == 403 and "role 'viewer'" in r.text


@pytest.mark.parametrize("path", ["/alarms-create", "/alarms-edit", "/metrics/explorer/create-alarm",
                                  "/target-groups-action"])
def test_console_create_forms_need_editor(runtime, secured, path):
    """Creating and editing alarms, and target groups: a viewer is refused by role, an editor reaches the CSRF check."""
    keys = _keys(runtime)
    form = {"csrf": "x", "name": "a", "action": "create", "threshold": "1"}
    assert console_action("POST", path) == "edit"
    r = secured.post(path, data=form, headers=keys[("viewer", None)])
    assert r.status_code == 403 and "role 'viewer'" in r.text
    r = secured.post(path, data=form, headers=keys[("editor", None)])
    assert r.status_code == 403 and "CSRF" in r.text
    assert secured.get("/alarms", headers=keys[("viewer", None)]).status_code == 200
    assert console_action("GET", "/monitors/target-groups/utm-api") == "read"
    assert console_action("GET", "/logs/group/streams") == "read"
    assert secured.get("/logs/group/streams", params={"name": "/nope"}, headers=keys[("viewer", None)]).status_code == 200
    assert secured.get("/logs/group/streams", params={"name": "/nope"}).status_code in (401, 403)
    assert secured.get("/monitors/target-groups/a", headers=keys[("viewer", None)]).status_code == 404


def test_old_user_keys_became_editors(tmp_path):
    """The migration maps the old 'user' role onto editor."""
    from alembic import command
    from sqlalchemy import text

    from rexwatch.stores.control import connect_control
    from rexwatch.stores.control.engine import alembic_config

    engine = connect_control(f"sqlite:///{tmp_path / 'c.db'}")
    cfg = alembic_config(engine)
    command.upgrade(cfg, "core@head")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO api_keys (name, kind, role, prefix, created_at) "
                          "VALUES ('ci', 'bearer', 'user', 'p1', '2026-01-01'), "
                          "('root', 'bearer', 'admin', 'p2', '2026-01-01')"))
    command.upgrade(cfg, "heads")
    with engine.connect() as conn:
        roles = dict(conn.execute(text("SELECT name, role FROM api_keys")).all())
    assert roles == {"ci": "editor", "root": "admin"}
    assert json.dumps(roles)


def test_console_security_and_users_pages(runtime, secured):
    """The security page reads for every role and edits for editors; the users page is an admin's."""
    keys = _keys(runtime)
    viewer, editor, admin = keys[("viewer", None)], keys[("editor", None)], keys[("admin", None)]
    for headers in (viewer, editor, admin):
        assert secured.get("/security", headers=headers).status_code == 200
    form = {"csrf": "x", "action": "unblock", "ip": "203.0.113.9"}
    r = secured.post("/security/blocklist", data=form, headers=viewer)
    assert r.status_code == 403 and "role 'viewer'" in r.text
    # An editor passes the role check and meets the CSRF check instead.
    r = secured.post("/security/blocklist", data=form, headers=editor)
    assert r.status_code == 403 and "CSRF" in r.text
    for headers in (viewer, editor):
        assert secured.get("/users", headers=headers).status_code == 403
        assert secured.post("/users/action", data={"csrf": "x", "action": "delete", "username": "a"},
                            headers=headers).status_code == 403
    assert secured.get("/users", headers=admin).status_code == 200
