"""Security monitoring: the IP blocklist and allowlist, and ready-made rule templates."""
