"""REST routers under /api/v1, one module per area. Adding an area is one line."""

ROUTERS: tuple[str, ...] = (
    "rexwatch.api.routes.keys",
    "rexwatch.api.routes.users",
    "rexwatch.api.routes.sso",
    "rexwatch.api.routes.teams",
    "rexwatch.api.routes.recovery",
    "rexwatch.api.routes.audit",
    "rexwatch.api.routes.system",
    "rexwatch.api.routes.logs",
    "rexwatch.api.routes.filterpatterns",
    "rexwatch.api.routes.insights",
    "rexwatch.api.routes.metrics",
    "rexwatch.api.routes.traces",
    "rexwatch.api.routes.alarms",
    "rexwatch.api.routes.notify",
    "rexwatch.api.routes.monitors",
    "rexwatch.api.routes.agent",
    "rexwatch.api.routes.dashboards",
    "rexwatch.api.routes.security",
)
