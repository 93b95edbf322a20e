"""The AWS door: protocol detection, authentication, dispatch and error shape."""

from __future__ import annotations

import functools
import importlib
import logging
import uuid
from typing import Any
from urllib.parse import parse_qs

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import Response

from rexwatch.aws import SERVICE_MODULES, validate
from rexwatch.aws.errors import AwsError, to_aws
from rexwatch.aws.protocols import CODECS
from rexwatch.aws.registry import HANDLERS, AwsContext
from rexwatch.aws.sigv4 import SigV4Failure, verify
from rexwatch.errors import RexwatchError
from rexwatch.runtime import Runtime

log = logging.getLogger("rexwatch.aws")

MAX_BODY = 12 * 1024 * 1024

# JSON target prefixes and query-protocol API versions -> (botocore service name, signing name).
TARGET_PREFIXES = {
    "Logs_20140328": ("logs", "logs"),
    "GraniteServiceVersion20100801": ("cloudwatch", "monitoring"),
    "ResourceGroupsTaggingAPI_20170126": ("resourcegroupstaggingapi", "tagging"),
}
# EC2 speaks its own variant of the query protocol (Grafana's CloudWatch data source asks it for regions).
EC2_VERSION = "2016-11-15"
# REST-JSON operations answered by path: Observability Access Manager's listings (Grafana asks for them).
REST_PATHS = {"/ListSinks": ("oam", "oam", "ListSinks"), "/ListAttachedLinks": ("oam", "oam", "ListAttachedLinks")}
QUERY_VERSIONS = {
    "2010-03-31": ("sns", "sns"),
    "2010-08-01": ("cloudwatch", "monitoring"),
    "2015-12-01": ("elbv2", "elasticloadbalancing"),
}

# Auth failure kind -> error code, by protocol family.
_AUTH_CODES = {
    "json": {
        "missing": ("AccessDeniedException", 400),
        "unknown_key": ("UnrecognizedClientException", 400),
        "bad_signature": ("InvalidSignatureException", 400),
        "expired": ("InvalidSignatureException", 400),
        "bad_scope": ("InvalidSignatureException", 400),
        "malformed": ("InvalidSignatureException", 400),
    },
    "query": {
        "missing": ("MissingAuthenticationToken", 403),
        "unknown_key": ("InvalidClientTokenId", 403),
        "bad_signature": ("SignatureDoesNotMatch", 403),
        "expired": ("SignatureDoesNotMatch", 403),
        "bad_scope": ("SignatureDoesNotMatch", 403),
        "malformed": ("IncompleteSignature", 403),
    },
}


@functools.cache
def service_model(name: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(name)


def _codec(protocol: str) -> Any:
    if protocol not in CODECS:
        raise AwsError("UnsupportedProtocol", f"the {protocol} protocol is not supported by this server", 400)
    return importlib.import_module(CODECS[protocol])


def detect(request: Request, body: bytes) -> tuple[str, str, str, str]:
    """Return (service, signing name, operation, protocol) or raise AwsError."""
    headers = request.headers
    target = headers.get("x-amz-target")
    if target:
        prefix, _, op = target.partition(".")
        if prefix not in TARGET_PREFIXES or not op:
            raise AwsError("UnknownOperationException", f"unknown X-Amz-Target {target!r}")
        service, signing = TARGET_PREFIXES[prefix]
        return service, signing, op, "json"
    parts = request.url.path.strip("/").split("/")
    if len(parts) == 4 and parts[0] == "service" and parts[2] == "operation":
        if parts[1] not in TARGET_PREFIXES:
            raise AwsError("UnknownOperationException", f"unknown service {parts[1]!r}")
        service, signing = TARGET_PREFIXES[parts[1]]
        return service, signing, parts[3], "cbor"
    if request.url.path in REST_PATHS:
        service, signing, op = REST_PATHS[request.url.path]
        return service, signing, op, "rest-json"
    ctype = headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded") or request.url.query:
        form = parse_qs(body.decode("utf-8", "replace") or request.url.query, keep_blank_values=True)
        action = (form.get("Action") or [""])[0]
        version = (form.get("Version") or [""])[0]
        if version == EC2_VERSION and action:
            return "ec2", "ec2", action, "ec2"
        if version not in QUERY_VERSIONS:
            raise AwsError("InvalidParameterValue", f"unsupported API Version {version!r}")
        if not action:
            raise AwsError("MissingAction", "the Action parameter is required")
        service, signing = QUERY_VERSIONS[version]
        return service, signing, action, "query"
    raise AwsError("UnknownOperationException", "request is not in an AWS protocol rexwatch understands")


def _gunzip(body: bytes) -> bytes:
    import zlib

    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, MAX_BODY + 1)
    except zlib.error as e:
        raise AwsError("SerializationException", f"request body is not valid gzip: {e}")
    if len(out) > MAX_BODY or d.unconsumed_tail:
        raise AwsError("RequestEntityTooLarge", f"decompressed request body exceeds {MAX_BODY} bytes", 413)
    return out


def _family(protocol: str) -> str:
    return "query" if protocol in ("query", "ec2") else "json"


def authenticate(runtime: Runtime, request: Request, body: bytes, signing: str, protocol: str) -> None:
    if not runtime.settings.auth_enabled:
        return
    headers = {k.lower(): v for k, v in request.headers.items()}
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        # The rexwatch CLI drives this door with its API key instead of a signature.
        if runtime.keys.verify_bearer(auth[7:].strip()) is None:
            code, status = _AUTH_CODES[_family(protocol)]["unknown_key"]
            raise AwsError(code, "The security token included in the request is invalid.", status)
        return
    try:
        verify(
            request.method,
            request.url.path,
            request.url.query,
            headers,
            body,
            expected_service=signing,
            secret_for=runtime.keys.aws_secret,
        )
    except SigV4Failure as f:
        code, status = _AUTH_CODES[_family(protocol)][f.kind]
        raise AwsError(code, f.message, status)


def install(app: FastAPI, runtime: Runtime) -> None:
    for dotted in SERVICE_MODULES:
        importlib.import_module(dotted)
    # Load the botocore models now so the first request does not pay for it.
    # (EC2's model is large and only Grafana's region lookup needs it: it loads on first use.)
    for service in {svc for svc, _ in HANDLERS} - {"ec2"}:
        service_model(service)

    async def door(request: Request) -> Response:
        request_id = request.scope.get("state", {}).get("request_id") or str(uuid.uuid4())
        ctx = AwsContext(
            runtime, "", "", request_id, runtime.settings.region, runtime.settings.account_id, "json"
        )
        try:
            body = await request.body()
            if len(body) > MAX_BODY:
                raise AwsError("RequestEntityTooLarge", f"request body exceeds {MAX_BODY} bytes", 413)
            signed_body = body
            if "gzip" in request.headers.get("content-encoding", "").lower():
                # SDKs gzip large PutMetricData bodies (the operation's requestcompression trait).
                body = _gunzip(body)
            service, signing, op, protocol = detect(request, body)
            ctx.service, ctx.operation, ctx.protocol = service, op, protocol
            request.scope.setdefault("state", {})["aws_operation"] = f"{service}.{op}"
            codec = _codec(protocol)
            if runtime.settings.auth_enabled:  # skip the thread hop when there is nothing to check
                await anyio.to_thread.run_sync(authenticate, runtime, request, signed_body, signing, protocol)
            model = service_model(service)
            if op not in model.operation_names:
                raise AwsError(
                    "UnknownOperationException" if protocol not in ("query", "ec2") else "InvalidAction",
                    f"{op} is not an operation of {service}",
                )
            op_model = model.operation_model(op)
            fn = HANDLERS.get((service, op))
            if fn is None:
                raise AwsError(
                    "UnknownOperationException" if protocol not in ("query", "ec2") else "InvalidAction",
                    f"{service} {op} is not implemented by rexwatch yet",
                )
            params = codec.decode(body, dict(request.headers), op_model)
            if protocol not in ("query", "ec2"):  # form parameters are all text; their codecs convert them
                validate.check(params, op_model.input_shape)
            result = await anyio.to_thread.run_sync(fn, ctx, params)
            payload, ctype, headers = codec.encode(result or {}, op_model, ctx)
            return Response(payload, 200, headers=headers, media_type=ctype)
        except RexwatchError as e:
            err = to_aws(e, ctx.service)
        except AwsError as e:
            err = e
        except Exception:
            log.exception("AWS %s.%s failed", ctx.service, ctx.operation, extra={"request_id": request_id})
            err = AwsError("InternalFailure", f"internal error; request id {request_id}", 500, sender=False)
        try:
            codec = _codec(ctx.protocol)
        except AwsError:
            codec = _codec("json")
        status, payload, ctype, headers = codec.encode_error(err, ctx)
        return Response(payload, status, headers=headers, media_type=ctype)

    app.add_api_route("/", door, methods=["POST"], include_in_schema=False)
    app.add_api_route("/service/{svc}/operation/{op}", door, methods=["POST"], include_in_schema=False)
    for path in REST_PATHS:
        app.add_api_route(path, door, methods=["POST"], include_in_schema=False)
