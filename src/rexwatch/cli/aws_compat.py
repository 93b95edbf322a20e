"""docs/aws-compatibility.md, generated: every operation of the mirrored AWS
services, whether the server implements it, and what differs from AWS.

Which operations exist comes from botocore's service models; which are
implemented comes from the AWS door's handler registry; the notes are the
table below. ``python -m rexwatch.cli.aws_compat > docs/aws-compatibility.md``
regenerates the page and tests/test_aws_compat.py fails while the committed
page differs, so the page stays true as operations are added.
"""

from __future__ import annotations

# The AWS CLI service names of the mirrored groups, in the order the page lists them.
SERVICES: tuple[tuple[str, str, str], ...] = (
    ("logs", "CloudWatch Logs", "logs.md"),
    ("cloudwatch", "CloudWatch (metrics and alarms)", "metrics.md"),
    ("sns", "SNS (notifications)", "notifications.md"),
)

# Notable differences from AWS, by (service, operation). Short; the area docs hold the detail.
NOTES: dict[tuple[str, str], str] = {
    ("logs", "CreateLogGroup"): "`kmsKeyId` and `logGroupClass` are stored, not acted on (no encryption "
    "keys, one storage class).",
    ("logs", "PutLogEvents"): "`sequenceToken` is accepted and ignored; answered only after the events "
    "are durably inserted.",
    ("logs", "FilterLogEvents"): "The filter-pattern forms rexwatch does not support are listed in "
    "filter-patterns.md.",
    ("logs", "StartQuery"): "Logs Insights language only (no SQL or PPL); at most 30 queries scheduled or "
    "running.",
    ("logs", "GetQueryResults"): "Query state lives in the memory of the node that ran StartQuery, for "
    "its last 1,000 queries.",
    ("cloudwatch", "PutMetricData"): "`EntityMetricData` is stored as plain metric data (the entity is "
    "dropped).",
    ("cloudwatch", "GetMetricStatistics"): "Trimmed and winsorized statistics (`tm`, `wm`, `tc`, `ts`, "
    "`IQM`) are refused. Percentiles read from rollups are within 0.78 %.",
    ("cloudwatch", "GetMetricData"): "Metric math and `SEARCH`; not `INSIGHT_RULE_METRIC`, anomaly "
    "detection, label time zones or cross-account queries.",
    ("logs", "GetLogGroupFields"): "Fields of up to 1,000 events of the window (8 minutes either side of "
    "`time`, else the last 15 minutes): JSON keys, nested ones joined with dots.",
    ("cloudwatch", "GetInsightRuleReport"): "There are no Contributor Insights rules: every rule name is "
    "answered with `ResourceNotFoundException`.",
    ("cloudwatch", "GetMetricWidgetImage"): "Views timeSeries (lines or stacked), singleValue, bar and pie; "
    "`png` and `image/png` both return the image in `MetricWidgetImage`; `image/svg+xml` returns SVG there.",
    ("cloudwatch", "PutDashboard"): "Bodies are validated as CloudWatch does and stored as given; the console "
    "draws them at `/dashboards/<name>` ([dashboards.md](dashboards.md)).",
    ("cloudwatch", "PutMetricAlarm"): "Actions are SNS topic ARNs only (no EC2, Auto Scaling or Systems "
    "Manager actions); anomaly-detection operators and PromQL criteria are refused.",
    ("cloudwatch", "PutCompositeAlarm"): "`ActionsSuppressor` wait and extension periods are stored but "
    "not modelled.",
    ("sns", "Subscribe"): "Protocols `email`, `email-json`, `http`/`https` (signed with HMAC-SHA256, not "
    "AWS certificates), `slack`, `pagerduty`, `discord` and `msteams`; no SMS, SQS, Lambda or mobile "
    "push. The `SkipConfirmation` attribute is a rexwatch extension.",
    ("sns", "Publish"): "Delivered through a durable outbox with retries and dead letters "
    "(`rexwatch sns deliveries`).",
    ("sns", "CreateTopic"): "FIFO topics are refused.",
}

GENERAL = """\
rexwatch serves the AWS wire protocols of the services below on its own port
(`--endpoint-url http://127.0.0.1:9099`), so the AWS CLI, boto3 and the AWS
SDKs work unchanged. `rexwatch logs|cloudwatch|sns <operation>` runs the
same operations through the AWS CLI's own driver, with its flags;
`rexwatch <group> <operation> --help` describes one.

What differs everywhere:

- **One account, one region.** ARNs carry the server's `account_id`
  (`000000000000` unless configured) and `region` (`us-east-1`). The literal
  placeholder `ACCOUNT` in an ARN you send (as in
  `arn:aws:sns:us-east-1:ACCOUNT:utm-alerts`) is replaced by that account id
  and stored that way; AWS itself would reject it. Any other account that is
  not 12 digits is refused with `InvalidParameter`.
- **Credentials.** With auth off (the default on a loopback address) any
  access key and secret are accepted, so the AWS tools only need some key to
  sign with: `rexwatch setup aws` writes a profile with a region, the
  endpoint and a key. With auth on, requests must be signed (SigV4) with a key
  from `rexwatch keys create --aws`, or carry `Authorization: Bearer <API key>`.
- **Errors.** An operation that is not implemented is answered with an
  AWS-shaped error naming the operation; nothing is changed.
- **Protocols.** JSON 1.1 (logs), JSON 1.0 and smithy RPC v2 CBOR
  (cloudwatch), and the query protocol (sns, and cloudwatch for older SDKs).
- **Grafana's neighbours.** For Grafana's CloudWatch data source, a few calls
  of other services answer too: `ec2 describe-regions` (the server's region),
  `ec2 describe-instances` and `describe-tags`, `resourcegroupstaggingapi
  get-resources`, `oam list-sinks` and `list-attached-links` (all empty); see
  [grafana.md](grafana.md).
"""


def note_for(service: str, operation: str) -> str | None:
    return NOTES.get((service, operation))


def render() -> str:
    """The page's Markdown."""
    import botocore.session
    from botocore import xform_name

    from rexwatch.cli.aws_ops import implemented

    session = botocore.session.get_session()
    out = [
        "# AWS compatibility",
        "",
        "<!-- Generated by `python -m rexwatch.cli.aws_compat > docs/aws-compatibility.md`;"
        " tests/test_aws_compat.py keeps it in step. Edit the generator, not this page. -->",
        "",
        GENERAL,
    ]
    for service, title, doc in SERVICES:
        model = session.get_service_model(service)
        ops = sorted(model.operation_names)
        done = implemented(service)
        unknown = sorted(done - set(ops))
        if unknown:
            raise RuntimeError(f"handlers for operations botocore's {service} model lacks: {unknown}")
        supported = [op for op in ops if op in done]
        missing = [op for op in ops if op not in done]
        out += [
            f"## {title}: `aws {service}`, `rexwatch {service}`",
            "",
            f"{len(supported)} of {len(ops)} operations (botocore {_botocore_version()}); details in "
            f"[{doc}]({doc}).",
            "",
            "| operation | command | notes |",
            "|---|---|---|",
        ]
        out += [f"| {op} | `{xform_name(op, '-')}` | {note_for(service, op) or ''} |" for op in supported]
        out += [
            "",
            f"Not supported ({len(missing)}): " + ", ".join(f"`{xform_name(op, '-')}`" for op in missing) + ".",
            "",
        ]
    stray = sorted(k for k in NOTES if k[1] not in implemented(k[0]))
    if stray:
        raise RuntimeError(f"notes for operations the server does not implement: {stray}")
    return "\n".join(out).rstrip() + "\n"


def _botocore_version() -> str:
    import botocore

    return botocore.__version__


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
