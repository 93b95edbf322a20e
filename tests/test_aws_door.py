"""The AWS door's protocol detection and SigV4 checks, with boto3 as the client."""

from __future__ import annotations

import botocore.exceptions
import httpx
import pytest


def _code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response["Error"]["Code"]


def test_unsigned_and_badly_signed_requests_are_refused(runtime, live):
    runtime.settings.auth = "on"
    key = runtime.keys.create("boto", aws=True)
    good = live.boto3_client("logs", aws_access_key_id=key.access_key_id,
                             aws_secret_access_key=key.secret_access_key)
    # Authentication passes: the operation itself answers.
    assert good.describe_log_groups()["logGroups"] == []

    unknown = live.boto3_client("logs", aws_access_key_id="AKIAUNKNOWN000000000", aws_secret_access_key="x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unknown.describe_log_groups()
    assert _code(e.value) == "UnrecognizedClientException"

    bad_secret = live.boto3_client("logs", aws_access_key_id=key.access_key_id,
                                   aws_secret_access_key="wrong" * 8)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad_secret.describe_log_groups()
    assert _code(e.value) == "InvalidSignatureException"

    r = httpx.post(live.url + "/", content=b"{}", headers={"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                                                          "Content-Type": "application/x-amz-json-1.1"})
    assert r.status_code == 400
    assert r.json()["__type"] == "AccessDeniedException"


def test_revoked_aws_key_is_refused(runtime, live):
    runtime.settings.auth = "on"
    key = runtime.keys.create("boto", aws=True)
    runtime.keys.revoke(key.access_key_id)
    c = live.boto3_client("logs", aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.describe_log_groups()
    assert _code(e.value) == "UnrecognizedClientException"


def test_signature_scope_and_skew_checks():
    import datetime as dt

    from rexwatch.aws.sigv4 import SigV4Failure, verify

    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    amz = now.strftime("%Y%m%dT%H%M%SZ")
    base = {"host": "h", "x-amz-date": amz}

    def check(headers, **kw):
        with pytest.raises(SigV4Failure) as e:
            verify("POST", "/", "", headers, b"", expected_service="logs", secret_for=lambda _k: "s",
                   now=kw.get("now", now))
        return e.value.kind

    sig = "0" * 64
    auth = f"AWS4-HMAC-SHA256 Credential=K/{amz[:8]}/us-east-1/logs/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}"
    assert check({**base, "authorization": auth}) == "bad_signature"
    assert check({**base, "authorization": auth}, now=now + dt.timedelta(minutes=20)) == "expired"
    assert check({**base, "authorization": auth.replace("/logs/", "/sns/")}) == "bad_scope"
    assert check({**base, "authorization": auth.replace(amz[:8], "20200101")}) == "bad_scope"
    assert check(base) == "missing"
    assert check({**base, "authorization": "AWS4-HMAC-SHA256 garbage"}) == "malformed"


def test_unknown_target_is_aws_shaped(live):
    r = httpx.post(live.url + "/", content=b"{}", headers={"X-Amz-Target": "Nope_1.Op"})
    assert r.status_code == 400
    assert r.json()["__type"] == "UnknownOperationException"
    r = httpx.post(live.url + "/", content=b"{bad", headers={"X-Amz-Target": "Logs_20140328.DescribeLogGroups"})
    assert r.status_code == 400


def _signed(url: str, key, body: bytes, extra: dict[str, str]) -> dict[str, str]:
    """Headers botocore's own SigV4 signer produces for ``body`` (plus ``extra``, signed too)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest("POST", url + "/", data=body, headers={
        "X-Amz-Target": "Logs_20140328.CreateLogGroup", "Content-Type": "application/x-amz-json-1.1", **extra})
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "logs", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def test_signature_binds_the_body(runtime, live):
    import hashlib

    runtime.settings.auth = "on"
    key = runtime.keys.create("boto", aws=True)
    original = b'{"logGroupName": "signed-group"}'
    swapped = b'{"logGroupName": "swapped-group"}'
    sha = hashlib.sha256(original).hexdigest()

    def post(body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(live.url + "/", content=body, headers=headers)

    # The hash header, signed, over a different body than the one that arrives.
    r = post(swapped, _signed(live.url, key, original, {"X-Amz-Content-Sha256": sha}))
    assert r.status_code == 400 and r.json()["__type"] == "InvalidSignatureException", r.text
    # Without the header the signature covers the body's own hash.
    r = post(swapped, _signed(live.url, key, original, {}))
    assert r.status_code == 400 and r.json()["__type"] == "InvalidSignatureException"
    # UNSIGNED-PAYLOAD is an S3 feature: refused here even when correctly signed.
    r = post(swapped, _signed(live.url, key, swapped, {"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"}))
    assert r.status_code == 400 and "only by Amazon S3" in r.json()["message"]
    # A hash header added after signing is not covered by the signature.
    headers = {**_signed(live.url, key, swapped, {}), "X-Amz-Content-Sha256": hashlib.sha256(swapped).hexdigest()}
    r = post(swapped, headers)
    assert r.status_code == 400 and "must be signed" in r.json()["message"]

    # The genuine request, with and without the header, is accepted.
    assert post(original, _signed(live.url, key, original, {"X-Amz-Content-Sha256": sha})).status_code == 200
    other = b'{"logGroupName": "plain-group"}'
    assert post(other, _signed(live.url, key, other, {})).status_code == 200
    names = [g["logGroupName"] for g in live.boto3_client(
        "logs", aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key
    ).describe_log_groups()["logGroups"]]
    assert names == ["plain-group", "signed-group"]


def test_door_paths_are_answered_ahead_of_the_router(live):
    from rexwatch.aws.door import ROUTE_PATHS, route_path

    assert route_path("/") == "/"
    assert route_path("/ListSinks") == "/ListSinks"
    assert route_path("/service/GraniteServiceVersion20100801/operation/PutMetricData") == ROUTE_PATHS[1]
    for other in ("/service/a/operation/b/c", "/service//operation/b", "/service/a/operation/", "/logs", "//"):
        assert route_path(other) is None, other
    # A path the router never sent to the door is still the router's (not an AWS error shape).
    r = httpx.post(live.url + "/service/a/operation/b/c", content=b"")
    assert r.status_code in (404, 405) and "__type" not in r.text
    # The door's refusals keep their shapes, and its operations their request metrics labels.
    r = httpx.post(live.url + "/service/Nope/operation/Op", content=b"",
                   headers={"content-type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/cbor"
    cw = live.boto3_client("cloudwatch")
    cw.put_metric_data(Namespace="App", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert 'route="aws:cloudwatch.PutMetricData"' in httpx.get(live.url + "/metrics").text
    # Other methods on the door's paths are still the router's.
    assert httpx.get(live.url + "/ListSinks").status_code == 405
