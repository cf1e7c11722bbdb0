"""``python -m trackstream_protocols``: see :mod:`trackstream_protocols.cli`."""

from trackstream_protocols.cli import main

raise SystemExit(main())
