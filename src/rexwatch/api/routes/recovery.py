"""Password reset links, email addresses and the second factor of users over REST (admins; under /api/v1/users)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from rexwatch.api.auth import get_runtime
from rexwatch.runtime import Runtime
from rexwatch.services.recovery import PasswordResets

router = APIRouter(prefix="/users", tags=["users"])


class EmailSet(BaseModel):
    # null or "": the user has no address (no reset by mail).
    email: str | None = Field(default=None, max_length=254)


class LinkRequest(BaseModel):
    # Mail the link to the user's address instead of returning it.
    send: bool = False


@router.put("/{username}/email")
def set_email(username: str, body: EmailSet, rt: Runtime = Depends(get_runtime)) -> dict:
    return {"username": username, "email": rt.service(PasswordResets).set_email(username, body.email)}


@router.post("/{username}/reset-link")
def reset_link(username: str, body: LinkRequest | None = None, rt: Runtime = Depends(get_runtime)) -> dict:
    """A single-use link to choose a new password: returned to the admin, or mailed to the user."""
    resets = rt.service(PasswordResets)
    if body is not None and body.send:
        return {"username": username, "sent": resets.mail_link(username)}
    return resets.issue(username).view()


@router.get("/{username}/2fa")
def second_factor(username: str, rt: Runtime = Depends(get_runtime)) -> dict:
    from rexwatch.services.totp import TotpService

    return rt.service(TotpService).status(username)


@router.delete("/{username}/2fa")
def reset_second_factor(username: str, rt: Runtime = Depends(get_runtime)) -> dict:
    """Turn a user's second factor off (a lost authenticator and recovery codes)."""
    from rexwatch.services.totp import TotpService

    was_on = rt.service(TotpService).reset(username)
    return {"username": username, "enabled": False, "was_enabled": was_on}
