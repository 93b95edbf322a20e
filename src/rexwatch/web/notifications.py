"""Notifications page: topics, subscriptions with their confirmation status, "send test" with each
delivery's outcome, and the delivery log with filters and dead-letter replay. Everything goes
through NotifyService (the service behind the SNS door and /api/v1/topics); changes are
CSRF-checked POST forms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from rexwatch.errors import Invalid, RexwatchError
from rexwatch.services.notify import NotifyService
from rexwatch.services.notify.providers import PROVIDERS
from rexwatch.web import templates
from rexwatch.web.common import call, check_csrf, csrf_token, set_csrf_cookie, url

# With auth on, the gate (api/guard.py) lets only keys through unless `public` names ui.
router = APIRouter(include_in_schema=False)

MAX_LISTED = 1000  # topics and subscriptions read for one page (bounded pages of the service)
DELIVERIES_SHOWN = 100
TEST_WAIT_S = 15.0  # how long "Send test" waits for its deliveries to finish
STATUSES = ("pending", "delivered", "dead")


def _svc(request: Request) -> NotifyService:
    return request.app.state.runtime.service(NotifyService)


def _view(svc: NotifyService, topic: str, status: str, msg: str) -> dict[str, Any]:
    topics: list[str] = []
    token = None
    while len(topics) < MAX_LISTED:
        page, token = svc.list_topics(token)
        topics += page
        if not token:
            break
    subs: list[Any] = []
    token = None
    while len(subs) < MAX_LISTED:
        page_s, token = svc.list_subscriptions(None, token)
        subs += page_s
        if not token:
            break
    counts = {t: {"confirmed": 0, "pending": 0} for t in topics}
    for s in subs:
        c = counts.setdefault(s.topic_arn, {"confirmed": 0, "pending": 0})
        c["confirmed" if s.status == "confirmed" else "pending"] += 1
    shown_subs = [s for s in subs if not topic or s.topic_arn == topic]
    deliveries = svc.deliveries(status=status or None, topic_arn=topic or None, limit=DELIVERIES_SHOWN)
    test = svc.message_deliveries(msg) if msg else None
    return {"topics": topics, "counts": counts, "subs": shown_subs, "deliveries": deliveries, "test": test}


@router.get("/notifications", response_class=HTMLResponse)
async def notifications_page(request: Request, topic: str = "", status: str = "", msg: str = "") -> HTMLResponse:
    svc = _svc(request)
    status = status if status in STATUSES else ""
    ctx: dict[str, Any] = {"topic": topic, "status": status, "msg": msg[:100], "error": None, "statuses": STATUSES,
                           "protocols": list(PROVIDERS), "url": url, "csrf": csrf_token(request),
                           "done": request.query_params.get("done"), "problem": request.query_params.get("problem"),
                           "short": lambda arn: arn.rsplit(":", 1)[-1]}
    try:
        ctx.update(await call(_view, svc, topic, status, msg[:100]))
    except RexwatchError as e:
        ctx.update({"error": e.message, "topics": [], "counts": {}, "subs": [], "deliveries": [], "test": None})
    response = templates.TemplateResponse(request, "notifications.html", ctx, status_code=400 if ctx["error"] else 200)
    return set_csrf_cookie(request, response)


ACTIONS = ("create-topic", "delete-topic", "subscribe", "confirm", "unsubscribe", "test", "replay", "replay-all")


@router.post("/notifications-action")
async def notifications_action(request: Request) -> RedirectResponse:
    fields = await check_csrf(request)
    action = fields.get("action", "")
    svc = _svc(request)
    back = {"topic": fields.get("back_topic", ""), "status": fields.get("back_status", "")}
    try:
        if action == "create-topic":
            arn = await call(svc.create_topic, fields.get("name", "").strip())
            done = f"Topic {arn} created."
        elif action == "delete-topic":
            await call(svc.delete_topic, fields.get("topic", ""))
            done, back["topic"] = f"Topic {fields.get('topic', '')} deleted.", ""
        elif action == "subscribe":
            result = await call(svc.subscribe, fields.get("topic", ""), fields.get("protocol", ""),
                                fields.get("endpoint", "").strip())
            done = f"Subscribed: {result}."
        elif action == "confirm":
            await call(svc.admin_confirm, fields.get("subscription", ""))
            done = "Subscription confirmed."
        elif action == "unsubscribe":
            await call(svc.unsubscribe, fields.get("subscription", ""))
            done = "Unsubscribed."
        elif action == "test":
            return await _send_test(request, svc, fields, back)
        elif action == "replay":
            ident = fields.get("delivery", "")
            if not ident.isdigit():
                raise Invalid("delivery must be a delivery id", field="delivery")
            n = await call(svc.replay, [int(ident)])
            done = f"{n} dead letter{'' if n == 1 else 's'} queued again."
        elif action == "replay-all":
            n = await call(svc.replay, None)
            done = f"{n} dead letter{'' if n == 1 else 's'} queued again."
        else:
            raise Invalid(f"action must be one of {', '.join(ACTIONS)}", field="action")
    except RexwatchError as e:
        return RedirectResponse(url("/notifications", problem=e.message, **back), status_code=303)
    return RedirectResponse(url("/notifications", done=done, **back), status_code=303)


async def _send_test(request: Request, svc: NotifyService, fields: dict[str, str],
                     back: dict[str, str]) -> RedirectResponse:
    """Publish a test message and deliver it now (as ``POST /api/v1/topics/<t>/test`` does)."""
    from rexwatch.services.notify.delivery import Dispatcher

    message = fields.get("message", "").strip() or "This is a test notification from rexwatch."
    subject = fields.get("subject", "").strip()[:100] or "rexwatch test"
    r = await call(svc.publish, fields.get("topic", ""), message, subject)
    if r.deliveries:
        await Dispatcher(request.app.state.runtime).drive_message(r.message_id, TEST_WAIT_S)
    done = f"Test message {r.message_id} published to {r.deliveries} subscription{'' if r.deliveries == 1 else 's'}."
    return RedirectResponse(url("/notifications", done=done, msg=r.message_id, **back), status_code=303)
