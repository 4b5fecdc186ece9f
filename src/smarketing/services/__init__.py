"""Use cases the surfaces call: each takes a `Workspace` (settings, database, clock)."""
