"""The server's own metrics, exposed in Prometheus text format at /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector


class ServerMetrics:
    """One registry per runtime, so several in-process servers (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "rexwatch_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rexwatch_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.ingested = Counter(
            "rexwatch_ingested",
            "Items accepted into the telemetry store, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "rexwatch_rejected",
            "Items refused at ingest, by kind and reason.",
            ["kind", "reason"],
            registry=self.registry,
        )
        self.store_errors = Counter(
            "rexwatch_store_errors",
            "Errors raised by a store.",
            ["store"],
            registry=self.registry,
        )
        self.worker_ticks = Counter(
            "rexwatch_worker_ticks",
            "Worker ticks by worker and outcome.",
            ["worker", "outcome"],
            registry=self.registry,
        )
        self.buffer_fill = Gauge(
            "rexwatch_ingest_buffer_items",
            "Items waiting in an ingest buffer.",
            ["kind"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
