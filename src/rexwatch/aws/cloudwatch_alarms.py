"""CloudWatch alarm operations (filled in below)."""
