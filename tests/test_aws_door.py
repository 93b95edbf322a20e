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
