"""The `smarketing` command line: thin commands over the services."""
