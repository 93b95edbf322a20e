"""Telemetry DDL, one module per area (see ``schema.AREAS``)."""
