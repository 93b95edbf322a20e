"""REST routers under /api/v1, one module per area. Adding an area is one line."""

ROUTERS: tuple[str, ...] = (
    "rexwatch.api.routes.keys",
    "rexwatch.api.routes.metrics",
    "rexwatch.api.routes.logs",
    "rexwatch.api.routes.monitors",
    "rexwatch.api.routes.system",
    "rexwatch.api.routes.notify",
)
