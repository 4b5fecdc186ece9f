"""The engine gate: the only code that connects to compute (see `base`)."""
