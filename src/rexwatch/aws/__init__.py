"""The AWS wire-protocol front door.

``door.py`` detects the protocol of a request, checks its signature
(``sigv4.py``), decodes the parameters with the protocol's codec
(``protocols/``), calls the handler registered for the operation and encodes
the result or error in the same protocol. Handlers live in one module per AWS
service and only translate between AWS shapes and service calls.
"""

# Modules that register operation handlers. Adding an AWS service is one line.
SERVICE_MODULES: tuple[str, ...] = (
    "rexwatch.aws.logs",
    "rexwatch.aws.logs_filterpatterns",
    "rexwatch.aws.logs_insights",
    "rexwatch.aws.logs_metric_filters",
    "rexwatch.aws.logs_fields",
    "rexwatch.aws.cloudwatch",
    "rexwatch.aws.cloudwatch_alarms",
    "rexwatch.aws.cloudwatch_dashboards",
    "rexwatch.aws.cloudwatch_insight_rules",
    "rexwatch.aws.sns",
    # Neighbours of CloudWatch that Grafana's CloudWatch data source calls.
    "rexwatch.aws.ec2",
    "rexwatch.aws.tagging",
    "rexwatch.aws.oam",
)
