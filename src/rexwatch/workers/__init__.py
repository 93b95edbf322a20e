"""Background workers. The server runs them all in its event loop by default.

``WORKERS`` maps a worker name to the dotted path of its class; adding a
worker is one line. ``rexwatch worker NAME`` runs one alone.
"""

WORKERS: dict[str, str] = {
    "retention": "rexwatch.workers.retention.RetentionWorker",
    "notify": "rexwatch.workers.notify.NotifyWorker",
    "alarms": "rexwatch.workers.alarms.AlarmsWorker",
    "probes": "rexwatch.workers.probes.ProbeWorker",
    "blocklist": "rexwatch.workers.blocklist.BlocklistWorker",
    "selfwatch": "rexwatch.workers.selfwatch.SelfWatchWorker",
    "scrape": "rexwatch.workers.scrape.ScrapeWorker",
}
