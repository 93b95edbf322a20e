"""Stores: telemetry (ClickHouse SQL) and control state (SQLAlchemy Core). Only these modules hold SQL."""
