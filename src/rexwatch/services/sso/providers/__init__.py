"""The kinds of single sign-on provider, one module each, registered in ``KINDS``.

A kind knows where its endpoints are and how to turn a token response into the claims of
the person who signed in; the flow around it (state, PKCE, cookies, mapping claims to
roles and teams, creating users) is the same for all and lives in ``..service``.

- ``oidc``: any OpenID Connect provider found by discovery from its issuer (Google, Okta,
  Azure AD / Entra ID, Keycloak, ...). The identity is the ID token, whose signature,
  issuer, audience, expiry and nonce are checked.
- ``github``: GitHub's OAuth 2.0 apps (not OpenID Connect): the identity is read from its
  API with the access token, including verified e-mail addresses, organisations and teams.
- ``oauth2``: any other plain OAuth 2.0 provider with a user-profile endpoint.
"""

from __future__ import annotations

from rexwatch.services.sso.providers.base import ProviderKind
from rexwatch.services.sso.providers.github import GitHubKind
from rexwatch.services.sso.providers.oauth2 import OAuth2Kind
from rexwatch.services.sso.providers.oidc import OidcKind

KINDS: dict[str, type[ProviderKind]] = {
    "oidc": OidcKind,
    "github": GitHubKind,
    "oauth2": OAuth2Kind,
}
KIND_NAMES = tuple(KINDS)
