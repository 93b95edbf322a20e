"""Links in notifications: confirm a subscription, unsubscribe. The token in the link is the credential."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from rexwatch.errors import RexwatchError
from rexwatch.services.notify import NotifyService
from rexwatch.web import templates

router = APIRouter(include_in_schema=False)


def _page(request: Request, title: str, text: str, status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, "notify_link.html", {"title": title, "text": text},
                                      status_code=status)


@router.get("/sns/confirm", response_class=HTMLResponse)
async def confirm(request: Request, TopicArn: str = "", Token: str = "") -> HTMLResponse:
    svc = request.app.state.runtime.service(NotifyService)
    try:
        arn = await anyio.to_thread.run_sync(svc.confirm_subscription, TopicArn, Token)
    except RexwatchError as e:
        return _page(request, "Subscription not confirmed", e.message, 400 if e.status < 500 else 500)
    return _page(request, "Subscription confirmed!",
                 f"You have successfully subscribed. Your subscription's id is: {arn}")


@router.get("/sns/unsubscribe", response_class=HTMLResponse)
async def unsubscribe(request: Request, SubscriptionArn: str = "", Token: str = "") -> HTMLResponse:
    svc = request.app.state.runtime.service(NotifyService)
    try:
        await anyio.to_thread.run_sync(svc.unsubscribe_with_token, SubscriptionArn, Token)
    except RexwatchError as e:
        return _page(request, "Not unsubscribed", e.message, 400 if e.status < 500 else 500)
    return _page(request, "Unsubscribed", f"{SubscriptionArn} will receive no more notifications.")
