"""HTTP front doors assembled into one ASGI app (see ``app.create_app``)."""
