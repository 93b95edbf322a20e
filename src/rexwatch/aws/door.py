"""The AWS door: protocol detection, authentication, dispatch and error shape."""

from __future__ import annotations

import functools
import importlib
import logging
import re
import uuid
from typing import Any
from urllib.parse import unquote_plus

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from rexwatch.aws import SERVICE_MODULES, validate
from rexwatch.aws.errors import AwsError, to_aws
from rexwatch.aws.protocols import CODECS
from rexwatch.aws.registry import HANDLERS, AwsContext
from rexwatch.aws.sigv4 import PendingSignature, SigV4Failure, check_body, check_headers
from rexwatch.errors import RexwatchError
from rexwatch.runtime import Runtime
from rexwatch.services.access import authorize, aws_action, bind
from rexwatch.services.teams import TeamService

log = logging.getLogger("rexwatch.aws")

# Longest piece of client input an error message repeats.
ECHO_MAX = 100

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

SIGNING_NAMES = frozenset(s for _, s in (*TARGET_PREFIXES.values(), *QUERY_VERSIONS.values())) | {"ec2"} | {
    signing for _, signing, _ in REST_PATHS.values()}

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


def clip(text: str, limit: int = ECHO_MAX) -> str:
    """Client input as an error message may repeat it: short, so errors never grow with input."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def declared_length(request: Request, limit: int) -> int | None:
    """Content-Length, refused with 413 before any of the body is read when it is over the limit."""
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise AwsError("SerializationException", f"Content-Length {clip(raw, 20)!r} is not a number")
    if int(raw) > limit:
        raise AwsError("RequestEntityTooLarge", f"request body of {raw} bytes exceeds {limit} bytes", 413)
    return int(raw)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read as a stream and abandoned as soon as it passes ``limit``."""
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise AwsError("RequestEntityTooLarge", f"request body exceeds {limit} bytes", 413)
    return bytes(buf)


def family_from_headers(request: Request) -> str:
    """The protocol family as far as headers tell, for errors raised before the body is read."""
    if request.headers.get("x-amz-target"):
        return "json"
    if request.url.path.startswith("/service/"):
        return "cbor"
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded") or request.url.query:
        return "query"
    return "json"


def detect(request: Request, body: bytes) -> tuple[str, str, str, str]:
    """Return (service, signing name, operation, protocol) or raise AwsError."""
    headers = request.headers
    target = headers.get("x-amz-target")
    if target:
        prefix, _, op = target.partition(".")
        if prefix not in TARGET_PREFIXES or not op:
            raise AwsError("UnknownOperationException", f"unknown X-Amz-Target {clip(target)!r}")
        service, signing = TARGET_PREFIXES[prefix]
        return service, signing, op, "json"
    parts = request.url.path.strip("/").split("/")
    if len(parts) == 4 and parts[0] == "service" and parts[2] == "operation":
        if parts[1] not in TARGET_PREFIXES:
            raise AwsError("UnknownOperationException", f"unknown service {clip(parts[1])!r}")
        service, signing = TARGET_PREFIXES[parts[1]]
        return service, signing, parts[3], "cbor"
    if request.url.path in REST_PATHS:
        service, signing, op = REST_PATHS[request.url.path]
        return service, signing, op, "rest-json"
    ctype = headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded") or request.url.query:
        text = body.decode("utf-8", "replace") or request.url.query
        action, version = _form_value(text, "Action"), _form_value(text, "Version")
        if version == EC2_VERSION and action:
            return "ec2", "ec2", action, "ec2"
        if version not in QUERY_VERSIONS:
            raise AwsError("InvalidParameterValue", f"unsupported API Version {clip(version)!r}")
        if not action:
            raise AwsError("MissingAction", "the Action parameter is required")
        service, signing = QUERY_VERSIONS[version]
        return service, signing, action, "query"
    raise AwsError("UnknownOperationException", "request is not in an AWS protocol rexwatch understands")


_FORM_FIELDS = {name: re.compile(rf"(?:^|&){name}=([^&]*)") for name in ("Action", "Version")}


def _form_value(text: str, name: str) -> str:
    """The first ``name=`` parameter of a form, without parsing the whole of it: a 1,000-item
    PutMetricData has 8,000 parameters and the codec reads them once, afterwards."""
    m = _FORM_FIELDS[name].search(text)
    return unquote_plus(m.group(1)) if m else ""


def answer_protocol(request: Request) -> str:
    """The protocol to answer errors in before the request is understood (a body too large, a form
    that is not UTF-8, no Version): a query client can parse only XML, a CBOR client only CBOR."""
    if request.headers.get("x-amz-target"):
        return "json"
    if request.url.path.startswith("/service/"):
        return "cbor"
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded") or request.url.query:
        return "query"
    return "json"


def _gunzip(body: bytes, limit: int) -> bytes:
    import zlib

    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as e:
        raise AwsError("SerializationException", f"request body is not valid gzip: {e}")
    if len(out) > limit or d.unconsumed_tail:
        raise AwsError("RequestEntityTooLarge", f"decompressed request body exceeds {limit} bytes", 413)
    return out


def _family(protocol: str) -> str:
    return "query" if protocol in ("query", "ec2") else "json"


def _auth_error(f: SigV4Failure, protocol: str) -> AwsError:
    code, status = _AUTH_CODES[_family(protocol)][f.kind]
    return AwsError(code, f.message, status)


def authenticate_headers(runtime: Runtime, request: Request, protocol: str) -> PendingSignature | None:
    """Everything about the caller that headers can prove, before the body is read.

    Returns the SigV4 check still to run over the body, or None when a bearer key settled it.
    """
    headers = {k.lower(): v for k, v in request.headers.items()}
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        # The rexwatch CLI drives this door with its API key instead of a signature.
        key = runtime.keys.verify_bearer(auth[7:].strip())
        if key is None:
            code, status = _AUTH_CODES[_family(protocol)]["unknown_key"]
            raise AwsError(code, "The security token included in the request is invalid.", status)
        request.scope.setdefault("state", {})["principal"] = key.principal()
        return None
    try:
        return check_headers(headers, services=SIGNING_NAMES, secret_for=runtime.keys.aws_secret)
    except SigV4Failure as f:
        raise _auth_error(f, protocol)


def authenticate_body(runtime: Runtime, pending: PendingSignature, request: Request, body: bytes, signing: str, protocol: str) -> None:
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        key_id = check_body(pending, request.method, request.url.path, request.url.query, headers, body,
                            expected_service=signing)
    except SigV4Failure as f:
        raise _auth_error(f, protocol)
    runtime.keys.touch(key_id)
    key = runtime.keys.by_access_key(key_id)
    if key is None:  # revoked between the two checks
        code, status = _AUTH_CODES[_family(protocol)]["unknown_key"]
        raise AwsError(code, "The security token included in the request is invalid.", status)
    request.scope.setdefault("state", {})["principal"] = key.principal()


def _audit(runtime: Runtime, request: Request, principal, service: str, op: str, params: dict) -> None:
    from rexwatch.services.audit import AuditService

    verb = "CREATE" if op.startswith("Create") else "DELETE" if op.startswith(("Delete", "Untag", "Unsubscribe")) \
        else "UPDATE"
    ident = next((str(params[k]) for k in ("logGroupName", "AlarmName", "Name", "TopicArn", "SubscriptionArn",
                                            "DashboardName", "queryDefinitionId", "filterName")
                  if isinstance(params.get(k), str | int)), "")
    try:
        runtime.service(AuditService).record(
            principal, verb, f"{service}.{op}", resource_id=ident, door="aws",
            ip=request.client.host if request.client else "", user_agent=request.headers.get("user-agent", ""),
            after=params)
    except Exception:  # the change is done; a missing audit line is logged, not raised
        log.exception("audit event for %s.%s not written", service, op)


# The AWS door's paths, as the router would send them to it (``IntakeRoutes`` takes them first).
ROUTE_PATHS = ("/", "/service/{svc}/operation/{op}", *REST_PATHS)
_OPERATION_PATH = re.compile(r"/service/[^/]+/operation/[^/]+\Z")


def route_path(path: str) -> str | None:
    """Which of ``ROUTE_PATHS`` the router would match ``path`` with (None: not the door's)."""
    if path == "/" or path in REST_PATHS:
        return path
    if _OPERATION_PATH.match(path):
        return ROUTE_PATHS[1]
    return None


def endpoint(runtime: Runtime):
    """The door's ASGI endpoint (``install`` adds its routes; ``IntakeRoutes`` calls it directly)."""
    for dotted in SERVICE_MODULES:
        importlib.import_module(dotted)
    # Load the botocore models now so the first request does not pay for it.
    # (EC2's model is large and only Grafana's region lookup needs it: it loads on first use.)
    for service in {svc for svc, _ in HANDLERS} - {"ec2"}:
        service_model(service)

    def serve(request: Request, ctx: AwsContext, pending: PendingSignature | None, body: bytes, signed_body: bytes,
              signing: str, codec: Any) -> Response:
        """Everything after the body is read, in one worker thread: each hop between the event loop
        and a worker costs the loop a wake-up of the other thread, which on a busy server cost as much
        CPU as reading a 1,000-item PutMetricData (it took four hops)."""
        service, op, protocol = ctx.service, ctx.operation, ctx.protocol
        if pending is not None:
            authenticate_body(runtime, pending, request, signed_body, signing, protocol)
        model = service_model(service)
        if op not in model.operation_names:
            raise AwsError(
                "UnknownOperationException" if protocol not in ("query", "ec2") else "InvalidAction",
                f"{clip(op)} is not an operation of {service}",
            )
        op_model = model.operation_model(op)
        fn = HANDLERS.get((service, op))
        if fn is None:
            raise AwsError(
                "UnknownOperationException" if protocol not in ("query", "ec2") else "InvalidAction",
                f"{service} {op} is not implemented by rexwatch yet",
            )
        # Only known operations become metric labels, so label sets stay bounded.
        state = request.scope.setdefault("state", {})
        state["aws_operation"] = f"{service}.{op}"
        action = aws_action(service, op)
        authorize(state.get("principal"), action, f"{service} {op}")
        # Decoding is CPU work that grows with the body (8,000 parameters in a 1,000-item PutMetricData).
        params = codec.decode(body, dict(request.headers), op_model)
        if protocol not in ("query", "ec2"):  # form parameters are all text; their codecs convert them
            validate.check(params, op_model.input_shape)
        principal = state.get("principal")
        if principal is not None and principal.user_id is not None:
            principal = runtime.service(TeamService).with_teams(principal)
        bind(principal)  # what the caller sees of team-owned log groups and alarms
        result = fn(ctx, params)
        if principal is not None and action in ("edit", "admin"):  # telemetry is not a change
            _audit(runtime, request, principal, service, op, params)
        payload, ctype, headers = codec.encode(result or {}, op_model, ctx)
        return Response(payload, 200, headers=headers, media_type=ctype)

    async def door(request: Request) -> Response:
        request_id = request.scope.get("state", {}).get("request_id") or str(uuid.uuid4())
        ctx = AwsContext(
            runtime, "", "", request_id, runtime.settings.region, runtime.settings.account_id,
            answer_protocol(request),
        )
        ctx.protocol = family_from_headers(request)
        try:
            # Size and caller are settled from headers first, so a stranger's request costs
            # no more than its headers; the body is then read as a stream up to the limit.
            limit = runtime.settings.max_body_bytes
            declared_length(request, limit)
            pending = None
            if runtime.settings.auth_enabled:  # skip the thread hop when there is nothing to check
                pending = await anyio.to_thread.run_sync(authenticate_headers, runtime, request, ctx.protocol)
            body = await read_body(request, limit)
            signed_body = body
            if "gzip" in request.headers.get("content-encoding", "").lower():
                # SDKs gzip large PutMetricData bodies (the operation's requestcompression trait).
                body = _gunzip(body, limit)
            service, signing, op, protocol = detect(request, body)
            ctx.service, ctx.operation, ctx.protocol = service, op, protocol
            codec = _codec(protocol)
            return await anyio.to_thread.run_sync(serve, request, ctx, pending, body, signed_body, signing, codec)
        except RexwatchError as e:
            err = to_aws(e, ctx.service)
        except AwsError as e:
            err = e
        except ClientDisconnect:
            # The client went away mid-body: nobody is left to answer, and it is not our fault.
            request.scope.setdefault("state", {})["client_disconnected"] = True
            return Response(status_code=499)
        except Exception:
            log.exception("AWS %s.%s failed", ctx.service, ctx.operation, extra={"request_id": request_id})
            err = AwsError("InternalFailure", f"internal error; request id {request_id}", 500, sender=False)
        if len(err.message) > 2 * ECHO_MAX + 200:
            err.message = clip(err.message, 2 * ECHO_MAX + 200)
        try:
            codec = _codec(ctx.protocol)
        except AwsError:
            codec = _codec("json")
        status, payload, ctype, headers = codec.encode_error(err, ctx)
        return Response(payload, status, headers=headers, media_type=ctype)

    return door


def install(app: FastAPI, door) -> None:
    """The door's routes: ``IntakeRoutes`` answers their POSTs first; the router's routes give other
    methods their 405 and list the paths with the app's routes."""
    for path in ROUTE_PATHS:
        app.add_api_route(path, door, methods=["POST"], include_in_schema=False)
