"""Synthetic log messages for filter-pattern tests: JSON API logs, access logs, plain text."""

from __future__ import annotations

import json
import random

LEVELS = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"]
PATHS = ["/api/users", "/api/tenants", "/api/invitations/accept", "/health", "/api/roles", "/index.html"]
METHODS = ["GET", "GET", "POST", "PUT", "DELETE"]
STATUSES = [200, 200, 201, 204, 301, 400, 401, 403, 404, 410, 500, 502, 503]
WORDS = [
    "ERROR",
    "error",
    "Exception",
    "NullPointerException",
    "WARN",
    "timeout",
    "AUTHORIZED",
    "UNAUTHORIZED",
    "connection",
    "reset",
    "retry",
    "ERROR:",
    "[ERROR]",
    "user_id",
    "café",
    "INTERNAL",
    "SERVER",
    "db-pool",
]


def json_message(rng: random.Random, i: int) -> str:
    doc: dict = {
        "level": rng.choice(LEVELS),
        "msg": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))),
        "duration": rng.choice([rng.randint(1, 3000), round(rng.uniform(0, 2000), 2), "1500", "fast", None]),
        "status": rng.choice(STATUSES),
        "req": {"method": rng.choice(METHODS), "path": rng.choice(PATHS), "id": f"req-{i}"},
        "tenant": rng.choice(["acme", "globex", "initech", "", "ACME"]),
    }
    if rng.random() < 0.3:
        doc["tags"] = rng.sample(["a", "b", "slow", "db", "cache"], rng.randint(0, 3))
    if rng.random() < 0.3:
        doc["cached"] = rng.choice([True, False])
    if rng.random() < 0.2:
        doc["error"] = rng.choice(
            [None, {"code": rng.choice(["E1", "E2"]), "retry": rng.choice([True, False])}, "boom"]
        )
    if rng.random() < 0.15:
        del doc["duration"]
    if rng.random() < 0.1:
        doc["big"] = rng.choice([1e21, 1.5e-7, 12345678901234567890, -0.0, 1e3])
    return json.dumps(doc)


def access_message(rng: random.Random, i: int) -> str:
    ip = f"10.0.{rng.randint(0, 3)}.{rng.randint(1, 254)}"
    user = rng.choice(["-", "frank", "alice", "bob"])
    ts = f"[10/Oct/2000:13:{rng.randint(10, 59)}:{rng.randint(10, 59)} -0700]"
    req = f'"{rng.choice(METHODS)} {rng.choice(PATHS)} HTTP/1.1"'
    status = rng.choice(STATUSES)
    size = rng.choice([0, rng.randint(1, 5000), "-"])
    extra = rng.choice(["", "", f' "{rng.choice(["curl/8", "Mozilla/5.0 (X11)"])}"', " extra"])
    return f"{ip} - {user} {ts} {req} {status} {size}{extra}"


def text_message(rng: random.Random, i: int) -> str:
    parts = [rng.choice(WORDS) for _ in range(rng.randint(1, 6))]
    tmpl = rng.choice(["{}", "[{}] {}", "{}: {}", "{} {} {}", "{}-{}"])
    need = tmpl.count("{}")
    words = (parts * 3)[:need]
    msg = tmpl.format(*words)
    if rng.random() < 0.2:
        msg += " INTERNAL SERVER ERROR"
    if rng.random() < 0.1:
        msg += "\n"
    return msg


def messages(n: int = 420, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 3
        out.append([json_message, access_message, text_message][kind](rng, i))
    out += [
        '{"level": "ERROR", "level": "INFO"}',
        "{not json",
        "[1, 2, 3]",
        '"just a string"',
        "",
        " ",
        '{"a": {"b": [{"c": 5}, 7]}, "x": null}',
        '{"duration": "\\"5\\""}',
        '{"duration": true}',
        '{"big": 1e3, "duration": 0}',
        '{"duration": 5.25, "level": "ERROR"}',
        "ERROR\n",
        "x ERROR\nnext line",
        '{"req": {"path": "\\/api\\/users"}, "level": "\\u0045RROR"}',
        '{"level": "ERROR-X", "msg": "a ERROR b"}',
        '{"level": ["ERROR"], "status": "5xx", "msg": "ERRORS"}',
        '10.0.0.1\t-\tfrank [x y] "GET / HTTP/1.1" 404 5',
        "a\vb c",
        "a\u00a0b c",
        "ERROR\u2003ERROR x",
        # duplicate keys: ClickHouse (and so every reader here) keeps the first
        '{"level":"INFO","level":"ERROR"}',
        '{"req": {"method": "GET"}, "req": {"method": "POST", "path": "/x"}}',
        '{"level":"INFO","l\\u0065vel":"ERROR","status":500}',
        # unicode
        '{"msg": "café ☕ ERROR", "level": "ERROR", "tenant": "ümlaut"}',
        '{"tenant": "\\u00fcmlaut", "level": "WARN"}',
        # number formats
        '{"duration": 1e3}',
        '{"duration": 1.0, "status": 1.5E+2}',
        '{"duration": -0, "big": -0.0}',
        '{"big": 123456789012345678901234567890, "duration": 18446744073709551616}',
        '{"duration": 1e400, "level": "ERROR"}',
        '   {"level": "ERROR", "duration": 1500}',
        # wildcards and keys with periods
        '{"tags": ["beta", "x"], "level": "INFO"}',
        '{"tags": {"k": "beta"}}',
        '{"tags": [null, "x"]}',
        '{"objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}]}',
        '{"eventType": "UpdateTrail", "sourceIPAddress": "111.111.111.111", "arrayKey": ["value", "another value"]}',
        '{"cluster.name": "blue"}',
        '{"cluster": {"name": "blue"}}',
        '{"cluster.name": "red", "cluster": {"name": "blue"}}',
        # space-delimited events with more words than a pattern has fields
        "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200",
        "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310",
        "WARNING 09/25/2014 12:00:02 Invalid user request",
        "ERROR 09/25/2014 12:00:02 Failed to process request",
        "ERROR  spaced   out words  ",
        'ERROR "quoted rest"',
        'ERROR "quoted" rest',
        "WARN [a b] c",
    ]
    return out
