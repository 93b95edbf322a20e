"""The settings of one single sign-on provider: one ``[[sso]]`` table in the config file.

Kept apart from the service so that loading settings never imports the OAuth libraries.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

ROLE_NAMES = ("viewer", "editor", "admin")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class SsoProvider(BaseModel):
    """One provider users may sign in with. ``kind`` picks the module that speaks to it
    (``rexwatch.services.sso.providers.KINDS``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Short name, part of the login and callback URLs: /login/sso/NAME.")
    kind: str = Field("oidc", description="oidc (Google, Okta, Azure AD, Keycloak, ...), github, or oauth2.")
    label: str = Field("", max_length=80, description="Button text on /login; default 'Sign in with NAME'.")
    issuer: str = Field(
        "", description="OIDC issuer URL; its /.well-known/openid-configuration names every endpoint."
    )
    authorize_url: str = Field("", description="oauth2/github: the authorization endpoint (github has a default).")
    token_url: str = Field("", description="oauth2/github: the token endpoint (github has a default).")
    userinfo_url: str = Field("", description="oauth2/github: where the user's profile is read (github: its API).")
    client_id: str = Field(min_length=1, max_length=500, description="The client id registered at the provider.")
    client_secret: SecretStr = Field(SecretStr(""), description="The client secret (empty for a public client).")
    token_auth: Literal["", "client_secret_basic", "client_secret_post"] = Field(
        "", description="How the client secret reaches the token endpoint; default: basic for oidc, post otherwise.",
    )
    scopes: str = Field("", description="Space-separated scopes; default per kind ('openid email profile').")
    redirect_uri: str = Field(
        "", description="The callback URL registered at the provider; default PUBLIC_URL/login/sso/NAME/callback."
    )
    username_claim: str = Field("email", description="Claim that names the rexwatch user (dotted path).")
    email_claim: str = Field("email", description="Claim holding the e-mail address checked against allowed_domains.")
    allowed_domains: list[str] = Field(
        default_factory=list, description="E-mail domains admitted; empty admits every address the provider vouches for."
    )
    role_claim: str = Field("", description="Claim (dotted path) whose values map to roles, e.g. groups.")
    role_map: dict[str, str] = Field(default_factory=dict, description="Claim value -> role; the highest match wins.")
    default_role: str = Field(
        "viewer", description="Role of a user no role_map entry matches; empty refuses such users."
    )
    team_claim: str = Field("", description="Claim (dotted path) whose values map to teams.")
    team_map: dict[str, str] = Field(
        default_factory=dict, description="Claim value -> team name; empty takes the claim's values as they are."
    )
    jit: bool = Field(True, description="Create a rexwatch user at the first login of someone admitted.")
    link_existing: bool = Field(
        False, description="Let an identity sign in as an existing user of the same name that it is not linked to yet.",
    )
    provider_logout: bool = Field(
        False, description="Sign out at the provider too (OIDC end_session_endpoint) when a user signs out.",
    )
    timeout_s: float = Field(10.0, gt=0, le=60, description="Timeout of each request to the provider.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("must be 1-40 lower-case letters, digits, _ or -, starting with a letter or digit")
        return v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        from rexwatch.services.sso.providers import KIND_NAMES

        if v not in KIND_NAMES:
            raise ValueError(f"unknown kind {v!r}; known: {', '.join(KIND_NAMES)}")
        return v

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        out = [d.strip().lower().lstrip("@") for d in v if d.strip()]
        for d in out:
            if not _DOMAIN.match(d):
                raise ValueError(f"{d!r} is not a domain name")
        return out

    @field_validator("role_map")
    @classmethod
    def _roles(cls, v: dict[str, str]) -> dict[str, str]:
        for claim_value, role in v.items():
            if role not in ROLE_NAMES:
                raise ValueError(f"{claim_value!r} maps to {role!r}; roles are {', '.join(ROLE_NAMES)}")
        return v

    @field_validator("default_role")
    @classmethod
    def _default_role(cls, v: str) -> str:
        if v and v not in ROLE_NAMES:
            raise ValueError(f"must be one of {', '.join(ROLE_NAMES)}, or empty to refuse unmapped users")
        return v

    @field_validator("issuer", "authorize_url", "token_url", "userinfo_url", "redirect_uri")
    @classmethod
    def _http_url(cls, v: str) -> str:
        v = v.strip()
        if v and not re.match(r"^https?://[^/\s?#]+", v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v

    @model_validator(mode="after")
    def _endpoints(self) -> SsoProvider:
        from rexwatch.services.sso.providers import KINDS

        missing = KINDS[self.kind].missing_settings(self)
        if missing:
            raise ValueError(f"provider {self.name!r} (kind {self.kind}) needs {' and '.join(missing)}")
        return self

    @property
    def button(self) -> str:
        return self.label or f"Sign in with {self.name}"

    def masked(self) -> dict[str, Any]:
        out = self.model_dump()
        out["client_secret"] = "********" if self.client_secret.get_secret_value() else ""
        return out


def check_unique(providers: list[SsoProvider]) -> list[SsoProvider]:
    seen: set[str] = set()
    for p in providers:
        if p.name in seen:
            raise ValueError(f"two providers are named {p.name!r}")
        seen.add(p.name)
    return providers
