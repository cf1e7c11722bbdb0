"""Protocol adapters: each wraps a codec from ``trackstream_protocols`` for one connection and
speaks the ingest domain (reports in, responses and commands out)."""
