"""Password reset links and users' email addresses over REST (admins; under /api/v1/users)."""

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
