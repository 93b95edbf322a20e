"""SNS operations over the query protocol. Handlers translate; NotifyService does the work."""

from __future__ import annotations

from typing import Any

from rexwatch.aws.errors import to_aws
from rexwatch.aws.registry import AwsContext, handler
from rexwatch.services.notify import NotifyService


def _svc(ctx: AwsContext) -> NotifyService:
    return ctx.runtime.service(NotifyService)


def _page(token: str | None) -> dict[str, Any]:
    return {"NextToken": token} if token else {}


@handler("sns", "CreateTopic")
def create_topic(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"TopicArn": _svc(ctx).create_topic(p.get("Name", ""), p.get("Attributes"), p.get("Tags"))}


@handler("sns", "ListTopics")
def list_topics(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    arns, token = _svc(ctx).list_topics(p.get("NextToken"))
    return {"Topics": [{"TopicArn": a} for a in arns], **_page(token)}


@handler("sns", "DeleteTopic")
def delete_topic(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).delete_topic(p["TopicArn"])
    return {}


@handler("sns", "GetTopicAttributes")
def get_topic_attributes(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"Attributes": _svc(ctx).get_topic_attributes(p["TopicArn"])}


@handler("sns", "SetTopicAttributes")
def set_topic_attributes(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).set_topic_attributes(p["TopicArn"], p["AttributeName"], p.get("AttributeValue"))
    return {}


@handler("sns", "Subscribe")
def subscribe(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    arn = _svc(ctx).subscribe(p["TopicArn"], p["Protocol"], p.get("Endpoint", ""), p.get("Attributes"),
                              bool(p.get("ReturnSubscriptionArn")))
    return {"SubscriptionArn": arn}


@handler("sns", "ConfirmSubscription")
def confirm_subscription(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"SubscriptionArn": _svc(ctx).confirm_subscription(p["TopicArn"], p["Token"])}


@handler("sns", "Unsubscribe")
def unsubscribe(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).unsubscribe(p["SubscriptionArn"])
    return {}


def _sub_entries(ctx: AwsContext, subs: list[Any]) -> list[dict[str, str]]:
    return [
        {
            "SubscriptionArn": s.arn if s.status == "confirmed" else "PendingConfirmation",
            "Owner": ctx.account_id,
            "Protocol": s.protocol,
            "Endpoint": s.endpoint,
            "TopicArn": s.topic_arn,
        }
        for s in subs
    ]


@handler("sns", "ListSubscriptions")
def list_subscriptions(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    subs, token = _svc(ctx).list_subscriptions(None, p.get("NextToken"))
    return {"Subscriptions": _sub_entries(ctx, subs), **_page(token)}


@handler("sns", "ListSubscriptionsByTopic")
def list_subscriptions_by_topic(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    subs, token = _svc(ctx).list_subscriptions(p["TopicArn"], p.get("NextToken"))
    return {"Subscriptions": _sub_entries(ctx, subs), **_page(token)}


@handler("sns", "GetSubscriptionAttributes")
def get_subscription_attributes(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"Attributes": _svc(ctx).get_subscription_attributes(p["SubscriptionArn"])}


@handler("sns", "SetSubscriptionAttributes")
def set_subscription_attributes(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).set_subscription_attributes(p["SubscriptionArn"], p["AttributeName"], p.get("AttributeValue"))
    return {}


@handler("sns", "Publish")
def publish(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    arn = p.get("TopicArn") or p.get("TargetArn")
    if not arn:
        from rexwatch.errors import Invalid

        raise Invalid("Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter",
                      field="TopicArn")
    r = _svc(ctx).publish(arn, p.get("Message", ""), p.get("Subject"), p.get("MessageAttributes"),
                          p.get("MessageStructure"))
    return {"MessageId": r.message_id}


@handler("sns", "PublishBatch")
def publish_batch(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    ok, failed = _svc(ctx).publish_batch(p["TopicArn"], p.get("PublishBatchRequestEntries") or [])
    errors = [(f["Id"], to_aws(f["Error"], "sns")) for f in failed]
    return {
        "Successful": ok,
        "Failed": [{"Id": i, "Code": e.code, "Message": e.message, "SenderFault": e.sender} for i, e in errors],
    }


@handler("sns", "TagResource")
def tag_resource(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).tag_topic(p["ResourceArn"], p.get("Tags") or [])
    return {}


@handler("sns", "UntagResource")
def untag_resource(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    _svc(ctx).untag_topic(p["ResourceArn"], p.get("TagKeys") or [])
    return {}


@handler("sns", "ListTagsForResource")
def list_tags_for_resource(ctx: AwsContext, p: dict[str, Any]) -> dict[str, Any]:
    tags = _svc(ctx).topic_tags(p["ResourceArn"])
    return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}
