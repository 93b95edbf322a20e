"""The rexwatch SDK for applications: installs with ``pip install rexwatch`` alone.

It must never import the server's dependencies (chdb, FastAPI, SQLAlchemy);
a test imports it with those blocked.
"""
