"""``rexwatch agent``: collects host, PostgreSQL and Redis metrics under AWS's names, tails log files,
and ships both to a rexwatch server, buffering on disk while the server is away.

It depends only on the base install plus the ``agent`` extra (psutil, psycopg, redis), never on the
server's stores, so it runs on every machine a team wants watched.
"""
