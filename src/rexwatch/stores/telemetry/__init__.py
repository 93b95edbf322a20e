"""Telemetry store: logs, metrics and probe results in ClickHouse.

The ``Executor`` protocol is the seam between services and ClickHouse. The
embedded default is chdb (``chdb.py``); a ClickHouse server executor over
clickhouse-connect implements the same four methods and runs the same SQL.
"""

from rexwatch.stores.telemetry.executor import Executor, open_executor

__all__ = ["Executor", "open_executor"]
