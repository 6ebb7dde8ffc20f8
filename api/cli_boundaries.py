"""`crimemap boundaries load` (foundation)."""
