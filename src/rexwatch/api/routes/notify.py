"""Topics, subscriptions and the delivery log over REST."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from rexwatch.api.auth import get_runtime
from rexwatch.runtime import Runtime
from rexwatch.services.notify import NotifyService

router = APIRouter(tags=["notifications"])


def _svc(rt: Runtime = Depends(get_runtime)) -> NotifyService:
    return rt.service(NotifyService)


class TopicCreate(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    attributes: dict[str, str] = {}


class SubscriptionCreate(BaseModel):
    protocol: str
    endpoint: str
    attributes: dict[str, str] = {}


class PublishBody(BaseModel):
    message: str = Field(min_length=1)
    subject: str | None = None
    attributes: dict[str, dict[str, Any]] = {}


class SubscriptionOut(BaseModel):
    id: str
    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    status: str
    attributes: dict[str, str]
    created_at: datetime | None
    confirmed_at: datetime | None


class ReplayBody(BaseModel):
    ids: list[int] | None = None


def _topic_arn(svc: NotifyService, topic: str) -> str:
    return topic if topic.startswith("arn:") else svc.topic_arn(topic)


@router.get("/topics")
def list_topics(svc: NotifyService = Depends(_svc)) -> list[dict[str, Any]]:
    out, token = [], None
    while True:
        arns, token = svc.list_topics(token)
        out += [svc.get_topic_attributes(a) for a in arns]
        if not token:
            return out


@router.post("/topics", status_code=201)
def create_topic(body: TopicCreate, svc: NotifyService = Depends(_svc)) -> dict[str, Any]:
    return svc.get_topic_attributes(svc.create_topic(body.name, body.attributes))


@router.get("/topics/{topic}")
def get_topic(topic: str, svc: NotifyService = Depends(_svc)) -> dict[str, Any]:
    return svc.get_topic_attributes(_topic_arn(svc, topic))


@router.delete("/topics/{topic}", status_code=204)
def delete_topic(topic: str, svc: NotifyService = Depends(_svc)) -> None:
    svc.get_topic_attributes(_topic_arn(svc, topic))
    svc.delete_topic(_topic_arn(svc, topic))


@router.get("/topics/{topic}/subscriptions", response_model=list[SubscriptionOut])
def topic_subscriptions(topic: str, svc: NotifyService = Depends(_svc)) -> list[Any]:
    subs, _ = svc.list_subscriptions(_topic_arn(svc, topic))
    return [s.__dict__ for s in subs]


@router.post("/topics/{topic}/subscriptions", status_code=201, response_model=SubscriptionOut)
def subscribe(topic: str, body: SubscriptionCreate, svc: NotifyService = Depends(_svc)) -> Any:
    arn = svc.subscribe(_topic_arn(svc, topic), body.protocol, body.endpoint, body.attributes, return_arn=True)
    return svc.get_subscription(arn).__dict__


@router.post("/topics/{topic}/publish")
def publish(topic: str, body: PublishBody, svc: NotifyService = Depends(_svc)) -> dict[str, Any]:
    r = svc.publish(_topic_arn(svc, topic), body.message, body.subject, body.attributes)
    return {"message_id": r.message_id, "deliveries": r.deliveries}


@router.post("/topics/{topic}/test")
async def test_topic(topic: str, body: PublishBody | None = None, wait: float = Query(30.0, ge=0, le=300),
                     rt: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    """Publish a test message through every subscription, deliver it now and report each outcome."""
    from rexwatch.services.notify.delivery import Dispatcher

    svc = rt.service(NotifyService)
    body = body or PublishBody(message="This is a test notification from rexwatch.", subject="rexwatch test")
    r = await anyio.to_thread.run_sync(
        lambda: svc.publish(_topic_arn(svc, topic), body.message, body.subject, body.attributes))
    rows = await Dispatcher(rt).drive_message(r.message_id, wait) if r.deliveries else []
    return {"message_id": r.message_id, "deliveries": rows}


@router.get("/subscriptions", response_model=list[SubscriptionOut])
def list_subscriptions(svc: NotifyService = Depends(_svc)) -> list[Any]:
    out, token = [], None
    while True:
        subs, token = svc.list_subscriptions(None, token)
        out += [s.__dict__ for s in subs]
        if not token:
            return out


@router.get("/subscriptions/{arn}", response_model=SubscriptionOut)
def get_subscription(arn: str, svc: NotifyService = Depends(_svc)) -> Any:
    return svc.get_subscription(arn).__dict__


@router.delete("/subscriptions/{arn}", status_code=204)
def unsubscribe(arn: str, svc: NotifyService = Depends(_svc)) -> None:
    svc.unsubscribe(arn)


@router.post("/subscriptions/{arn}/confirm", response_model=SubscriptionOut)
def admin_confirm(arn: str, svc: NotifyService = Depends(_svc)) -> Any:
    """Confirm without the confirmation round trip (administrators)."""
    return svc.admin_confirm(arn).__dict__


@router.get("/subscriptions/{arn}/signing-secret")
def signing_secret(arn: str, svc: NotifyService = Depends(_svc)) -> dict[str, str]:
    """The HMAC-SHA256 secret a webhook receiver verifies ``X-Rexwatch-Signature`` with."""
    return {"subscription_arn": svc.get_subscription(arn).arn, "secret": svc.signing_secret(arn)}


@router.get("/deliveries")
def deliveries(status: str | None = None, topic: str | None = None, message_id: str | None = None,
               subscription: str | None = None, before_id: int | None = None,
               limit: int = Query(100, ge=1, le=1000), svc: NotifyService = Depends(_svc)) -> list[dict[str, Any]]:
    return svc.deliveries(status=status, topic_arn=topic, message_id=message_id, subscription_arn=subscription,
                          before_id=before_id, limit=limit)


@router.get("/deliveries/dead-letters")
def dead_letters(limit: int = Query(100, ge=1, le=1000), svc: NotifyService = Depends(_svc)) -> list[dict]:
    return svc.deliveries(status="dead", limit=limit)


@router.post("/deliveries/replay")
def replay(body: ReplayBody | None = None, svc: NotifyService = Depends(_svc)) -> dict[str, int]:
    return {"replayed": svc.replay(body.ids if body else None)}


# The development mailbox (no smtp_host set) --------------------------------------------------------


@router.get("/mail")
def list_mail(limit: int = Query(50, ge=1, le=1000), to: str | None = None,
              svc: NotifyService = Depends(_svc)) -> list[dict[str, Any]]:
    """Mail kept in the local mailbox, newest first (sent nowhere because no smtp_host is set)."""
    return svc.list_mail(limit, to)


@router.get("/mail/latest")
def latest_mail(svc: NotifyService = Depends(_svc)) -> dict[str, Any]:
    return svc.get_mail(None)


@router.get("/mail/{mail_id}")
def get_mail(mail_id: int, svc: NotifyService = Depends(_svc)) -> dict[str, Any]:
    """One kept mail: headers, text body, its links (``confirm_url`` for a confirmation) and the raw message."""
    return svc.get_mail(mail_id)
