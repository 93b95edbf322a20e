"""Background workers. The server runs them all in its event loop by default.

``WORKERS`` maps a worker name to the dotted path of its class; adding a
worker is one line. ``rexwatch worker NAME`` runs one alone.
"""

WORKERS: dict[str, str] = {
    "notify": "rexwatch.workers.notify.NotifyWorker",
    "probes": "rexwatch.workers.probes.ProbeWorker",
    "retention": "rexwatch.workers.retention.RetentionWorker",
}
