"""Single sign-on: OpenID Connect and OAuth 2.0 providers, and sign-in by a trusted proxy's header.

``config`` holds a provider's settings (light: settings load it), ``providers`` one module per
kind of provider in one table, ``service`` the login flow and the mapping of claims to users,
roles and teams, ``proxy`` the header-based sign-in.
"""
