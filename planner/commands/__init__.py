"""One module per headless command (see planner.cli)."""
