"""Exporters, one module each, named in one table.

``configure(exporter="aws")`` picks a row; modules load only when chosen, so an
unused exporter's imports cost nothing.
"""

from __future__ import annotations

import importlib

from rexwatch.sdk.config import Config
from rexwatch.sdk.exporters.base import Exporter, ExportError, MetricDatum

EXPORTERS: dict[str, tuple[str, str]] = {
    # name: (module:class, what it speaks)
    "rexwatch": ("rexwatch.sdk.exporters.rexwatch:RexwatchExporter",
                 "rexwatch's native REST API (/api/v1), bearer API key"),
    "aws": ("rexwatch.sdk.exporters.aws:AwsExporter",
            "PutLogEvents and PutMetricData over the AWS JSON protocols with SigV4: rexwatch's AWS door or CloudWatch"),
    "emf": ("rexwatch.sdk.exporters.emf:EmfExporter",
            "metrics as Embedded Metric Format events: in the log group with PutLogEvents (SigV4), on stdout, "
            "or to the CloudWatch agent's EMF port (emf_destination)"),
    "otlp": ("rexwatch.sdk.exporters.otlp:OtlpExporter",
             "OTLP/HTTP protobuf logs and metrics: rexwatch's /v1/logs and /v1/metrics, or any OpenTelemetry "
             "collector (needs the otlp extra)"),
}


def make_exporter(config: Config) -> Exporter:
    try:
        target, _ = EXPORTERS[config.exporter]
    except KeyError:
        raise ValueError(f"unknown exporter {config.exporter!r}: choose one of {', '.join(EXPORTERS)}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)(config)


__all__ = ["EXPORTERS", "ExportError", "Exporter", "MetricDatum", "make_exporter"]
