"""All SQL of the notify area (topics, subscriptions, outbox). Functions take a Connection."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update

from rexwatch.stores.control.tables.notify import notify_outbox, notify_subscriptions, notify_topics

T, S, OB = notify_topics, notify_subscriptions, notify_outbox
FINAL = ("delivered", "dead")


# Topics ---------------------------------------------------------------------------------------------


def topic_by_name(conn: Connection, name: str) -> Any:
    return conn.execute(select(T).where(T.c.name == name)).first()


def insert_topic(conn: Connection, name: str, attributes: str, tags: str, now: dt.datetime) -> None:
    conn.execute(insert(T).values(name=name, attributes=attributes, tags=tags, created_at=now))


def update_topic(conn: Connection, topic_id: int, **values: Any) -> None:
    conn.execute(update(T).where(T.c.id == topic_id).values(**values))


def list_topics(conn: Connection, after: str, limit: int) -> list[Any]:
    return list(conn.execute(select(T.c.name).where(T.c.name > after).order_by(T.c.name).limit(limit)))


def delete_topic(conn: Connection, topic_id: int) -> None:
    conn.execute(delete(S).where(S.c.topic_id == topic_id))
    conn.execute(delete(T).where(T.c.id == topic_id))


def subscription_counts(conn: Connection, topic_id: int) -> dict[str, int]:
    rows = conn.execute(select(S.c.status, func.count()).where(S.c.topic_id == topic_id).group_by(S.c.status))
    return {r[0]: r[1] for r in rows}


# Subscriptions --------------------------------------------------------------------------------------

_SUB_COLS = [*S.c, T.c.name.label("topic_name")]


def subscription(conn: Connection, sub_id: str) -> Any:
    return conn.execute(select(*_SUB_COLS).join(T, T.c.id == S.c.topic_id).where(S.c.id == sub_id)).first()


def find_subscription(conn: Connection, topic_id: int, protocol: str, endpoint_hash: str) -> Any:
    q = (
        select(*_SUB_COLS)
        .join(T, T.c.id == S.c.topic_id)
        .where(S.c.topic_id == topic_id, S.c.protocol == protocol, S.c.endpoint_hash == endpoint_hash)
    )
    return conn.execute(q).first()


def unsealed_endpoints(conn: Connection) -> list[Any]:
    """Subscriptions written before endpoints were sealed (or without a lookup hash)."""
    q = select(S.c.id, S.c.protocol, S.c.endpoint).where(
        or_(S.c.endpoint_hash.is_(None), ~S.c.endpoint.startswith("enc:"))
    )
    return list(conn.execute(q))


def subscription_by_token(conn: Connection, topic_id: int, token: str) -> Any:
    q = select(*_SUB_COLS).join(T, T.c.id == S.c.topic_id).where(S.c.topic_id == topic_id, S.c.token == token)
    return conn.execute(q).first()


def insert_subscription(conn: Connection, **values: Any) -> None:
    conn.execute(insert(S).values(**values))


def update_subscription(conn: Connection, sub_id: str, **values: Any) -> None:
    conn.execute(update(S).where(S.c.id == sub_id).values(**values))


def delete_subscription(conn: Connection, sub_id: str) -> None:
    conn.execute(delete(S).where(S.c.id == sub_id))


def list_subscriptions(conn: Connection, topic_id: int | None, after: str, limit: int) -> list[Any]:
    q = select(*_SUB_COLS).join(T, T.c.id == S.c.topic_id).where(S.c.id > after)
    if topic_id is not None:
        q = q.where(S.c.topic_id == topic_id)
    return list(conn.execute(q.order_by(S.c.id).limit(limit)))


def confirmed_subscriptions(conn: Connection, topic_id: int) -> list[Any]:
    q = select(S.c.id, S.c.protocol, S.c.attributes).where(
        S.c.topic_id == topic_id, S.c.status == "confirmed"
    )
    return list(conn.execute(q))


# Outbox ---------------------------------------------------------------------------------------------


def insert_outbox(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(OB), rows)


def claim(
    conn: Connection,
    owner: str,
    now: dt.datetime,
    lease_until: dt.datetime,
    limit: int,
    message_id: str | None = None,
) -> list[Any]:
    """Lease up to ``limit`` due rows to ``owner`` in one statement.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` in the sub-select lets several
    notifiers claim side by side. SQLite: the single UPDATE runs under the
    database's write lock, and the lease condition is re-checked in it, so a
    row is never leased to two owners at once.
    """
    due = and_(
        OB.c.status == "pending",
        OB.c.next_attempt_at <= now,
        or_(OB.c.lease_until.is_(None), OB.c.lease_until < now),
    )
    if message_id is not None:
        due = and_(due, OB.c.message_id == message_id)
    # A read first: an idle notifier polls often and should not take the write lock each time.
    if conn.execute(select(OB.c.id).where(due).limit(1)).first() is None:
        return []
    sub = select(OB.c.id).where(due).order_by(OB.c.next_attempt_at, OB.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        sub = sub.with_for_update(skip_locked=True)
    stmt = (
        update(OB)
        .where(OB.c.id.in_(sub.scalar_subquery()), due)
        .values(lease_owner=owner, lease_until=lease_until, attempts=OB.c.attempts + 1, updated_at=now)
        .returning(OB.c.id)
    )
    ids = [r[0] for r in conn.execute(stmt)]
    if not ids:
        return []
    q = (
        select(
            OB,
            S.c.endpoint,
            S.c.secret_enc,
            S.c.token,
            S.c.attributes.label("sub_attributes"),
            S.c.id.label("sub_exists"),
        )
        .outerjoin(S, S.c.id == OB.c.subscription_id)
        .where(OB.c.id.in_(ids))
    )
    return list(conn.execute(q))


def finish(conn: Connection, owner: str, results: list[dict[str, Any]]) -> None:
    """Record outcomes of leased rows (one executemany); a row whose lease moved to another owner is left alone."""
    if not results:
        return
    stmt = (
        update(OB)
        .where(OB.c.id == bindparam("b_id"), OB.c.lease_owner == owner)
        .values(
            status=bindparam("b_status"),
            next_attempt_at=bindparam("b_next"),
            last_error=bindparam("b_error"),
            last_status=bindparam("b_code"),
            delivered_at=bindparam("b_delivered"),
            detail=bindparam("b_detail"),
            lease_owner=None,
            lease_until=None,
            updated_at=bindparam("b_updated"),
        )
    )
    conn.execute(
        stmt,
        [
            {
                "b_id": r["id"],
                "b_status": r["status"],
                "b_next": r["next_attempt_at"],
                "b_error": r.get("last_error"),
                "b_code": r.get("last_status"),
                "b_delivered": r.get("delivered_at"),
                "b_detail": r.get("detail"),
                "b_updated": r["updated_at"],
            }
            for r in results
        ],
    )


def deliveries(
    conn: Connection,
    *,
    status: str | None,
    topic_arn_name: str | None,
    message_id: str | None,
    subscription_id: str | None,
    before_id: int | None,
    limit: int,
) -> list[Any]:
    q = select(OB, S.c.endpoint).outerjoin(S, S.c.id == OB.c.subscription_id)
    if status:
        q = q.where(OB.c.status == status)
    if topic_arn_name:
        q = q.where(or_(OB.c.topic_arn == topic_arn_name, OB.c.topic_arn.like(f"%:{topic_arn_name}")))
    if message_id:
        q = q.where(OB.c.message_id == message_id)
    if subscription_id:
        q = q.where(OB.c.subscription_id == subscription_id)
    if before_id:
        q = q.where(OB.c.id < before_id)
    return list(conn.execute(q.order_by(OB.c.id.desc()).limit(limit)))


def replay(conn: Connection, ids: list[int] | None, now: dt.datetime) -> int:
    q = update(OB).where(OB.c.status == "dead")
    if ids is not None:
        q = q.where(OB.c.id.in_(ids))
    res = conn.execute(
        q.values(
            status="pending",
            attempts=0,
            next_attempt_at=now,
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )
    )
    return res.rowcount or 0


def message_rows(conn: Connection, message_id: str) -> list[Any]:
    q = (
        select(OB, S.c.endpoint)
        .outerjoin(S, S.c.id == OB.c.subscription_id)
        .where(OB.c.message_id == message_id)
    )
    return list(conn.execute(q.order_by(OB.c.id)))
