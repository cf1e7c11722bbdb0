"""Pure ingest domain: what devices report, sessions, commands, and the events they become."""
