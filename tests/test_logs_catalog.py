"""Groups and streams on both control stores: incarnation ids are never reused."""

from __future__ import annotations

import pytest

from rexwatch.errors import Conflict, NotFound
from rexwatch.services.logs import LogsService
from rexwatch.testing import make_runtime


@pytest.fixture
def svc_on(control_url, tmp_path, chdb_engine):
    rt = make_runtime(tmp_path / "data", chdb_engine, control_url=control_url, workers="none")
    yield rt.service(LogsService)
    rt.close(close_stores=False)
    rt.telemetry.drop_database()
    rt.control.dispose()


def test_recreated_groups_and_streams_get_new_ids(svc_on):
    svc = svc_on
    svc.create_log_group("/a")
    svc.create_log_stream("/a", "s")
    first = svc.group("/a").id
    first_stream = svc.catalog.stream(svc.group("/a"), "s").id
    with pytest.raises(Conflict):
        svc.create_log_stream("/a", "s")
    svc.delete_log_stream("/a", "s")
    svc.create_log_stream("/a", "s")
    assert svc.catalog.stream(svc.group("/a"), "s").id > first_stream
    svc.delete_log_group("/a")
    with pytest.raises(NotFound):
        svc.group("/a")
    svc.create_log_group("/a")
    assert svc.group("/a").id > first
    assert svc.describe_log_streams("/a")[0] == []
    tombs = svc.catalog.tombstones()
    assert {(g, s is None) for _, g, s in tombs} >= {(first, True), (first, False)}
