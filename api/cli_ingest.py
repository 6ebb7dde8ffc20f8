"""`crimemap ingest` and `crimemap coverage` (foundation)."""
