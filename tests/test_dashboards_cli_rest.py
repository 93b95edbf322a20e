"""Dashboards over REST and the CLI: ``rexwatch dashboards apply DIR`` is idempotent, list/get/delete,
and the dashboards shipped in examples/ are valid bodies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from helpers import run_cli
from rexwatch.services.dashboards import body as bodies

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "dashboards").glob("*.json"))


def cli(live, *args: str):
    return run_cli("--endpoint", live.url, *args)


def ok(result) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip().startswith(("{", "[")) else result.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_shipped_dashboards_are_valid_without_warnings(path: Path) -> None:
    errors, warnings = bodies.validate(path.read_text(), "us-east-1")
    assert errors == [] and warnings == []


def test_rest_put_get_list_delete(live) -> None:
    api = live.url + "/api/v1/dashboards"
    text = '{"widgets": [{"type": "text", "properties": {"markdown": "hi"}}]}'
    r = httpx.put(api + "/ops", content=text)
    assert r.status_code == 200 and r.json() == {"name": "ops", "warnings": []}
    got = httpx.get(api + "/ops").json()
    assert got["body_text"] == text and got["body"]["widgets"][0]["type"] == "text"
    assert [d["name"] for d in httpx.get(api).json()["dashboards"]] == ["ops"]
    bad = httpx.put(api + "/ops", content='{"widgets": [{"type": "graph"}]}')
    assert bad.status_code == 400 and "/widgets/0/type" in bad.json()["error"]["message"]
    assert httpx.put(api + "/bad%20name", content=text).status_code == 400
    assert httpx.delete(api + "/ops").status_code == 204
    assert httpx.get(api + "/ops").status_code == 404
    assert httpx.post(api + "/apply", json={"dashboards": ["x"]}).status_code == 400


def test_cli_apply_is_idempotent_and_prunes(live, tmp_path: Path) -> None:
    for p in EXAMPLES:
        shutil.copy(p, tmp_path / p.name)
    names = sorted(p.stem for p in EXAMPLES)
    first = ok(cli(live, "--output", "json", "dashboards", "apply", str(tmp_path)))
    assert sorted(first["created"]) == names and first["updated"] == []
    before = {d["name"]: d["last_modified"] for d in ok(cli(live, "--output", "json", "dashboards", "list"))}
    again = ok(cli(live, "--output", "json", "dashboards", "apply", str(tmp_path)))
    assert again["created"] == again["updated"] == [] and sorted(again["unchanged"]) == names
    after = {d["name"]: d["last_modified"] for d in ok(cli(live, "--output", "json", "dashboards", "list"))}
    assert after == before  # unchanged bodies are not rewritten

    # Reformatting a file is no change; changing a widget is.
    prod = tmp_path / "UTM-Production.json"
    doc = json.loads(prod.read_text())
    prod.write_text(json.dumps(doc, indent=4))
    assert ok(cli(live, "--output", "json", "dashboards", "apply", str(tmp_path)))["updated"] == []
    doc["widgets"][0]["properties"]["title"] = "ALB"
    prod.write_text(json.dumps(doc))
    assert ok(cli(live, "--output", "json", "dashboards", "apply", str(tmp_path)))["updated"] == ["UTM-Production"]
    assert ok(cli(live, "dashboards", "get", "UTM-Production"))["widgets"][0]["properties"]["title"] == "ALB"

    # A bad file changes nothing and names the file and the path in it.
    (tmp_path / "Broken.json").write_text('{"widgets": [{"type": "metric", "properties": {}}]}')
    res = cli(live, "dashboards", "apply", str(tmp_path))
    assert res.returncode == 1 and "Broken" in res.stderr and "/widgets/0/properties" in res.stderr
    (tmp_path / "Broken.json").write_text("{not json")
    res = cli(live, "dashboards", "apply", str(tmp_path))
    assert res.returncode == 1 and "not valid JSON" in res.stderr
    (tmp_path / "Broken.json").unlink()

    prod.unlink()
    out = ok(cli(live, "--output", "json", "dashboards", "apply", "--prune", str(tmp_path)))
    assert out["deleted"] == ["UTM-Production"]
    assert ok(cli(live, "--output", "json", "dashboards", "delete", "Rexwatch-Agent")) == {
        "deleted": ["Rexwatch-Agent"]}
    assert [d["name"] for d in ok(cli(live, "--output", "json", "dashboards", "list"))] == ["Rexwatch-Server"]
    assert cli(live, "dashboards", "get", "nope").returncode == 1
