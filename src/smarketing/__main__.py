"""`python -m smarketing ...` runs the CLI."""

from smarketing.cli.main import main

main()
