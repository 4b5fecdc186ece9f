"""Reports: Ibis expressions over the analytics tables, by name (see `registry`)."""
