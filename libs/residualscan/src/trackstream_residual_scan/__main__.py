"""``python -m trackstream_residual_scan --subject closure.json``: scan, write the report.

Exit code 0: no hit; 1: hits (the report lists them); 2: an error (bad closure or option, or a
store that could not be fully read; the report, when one was written, says which).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from trackstream_obs.logging import configure_logging
from trackstream_residual_scan.scanner import STORES, ScanRequest, StoreSettings, run_scan
from trackstream_residual_scan.subject import SubjectError, load_subject

EXIT_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trackstream_residual_scan",
        description="Find a data subject's identifiers in every Kafka topic (from the earliest "
        "offset), every Cassandra table and every S3 object version. Exit 0: none found; "
        "1: hits; 2: error.",
    )
    parser.add_argument(
        "--subject",
        required=True,
        help="the identifier closure, a JSON file ('-': standard input); see README.md",
    )
    parser.add_argument("--output", help="write the JSON report here (default: standard output)")
    parser.add_argument(
        "--stores",
        default=",".join(STORES),
        help=f"comma-separated stores to scan (default: {','.join(STORES)})",
    )
    parser.add_argument("--topic", action="append", default=[], help="only this topic (repeatable)")
    parser.add_argument("--topic-pattern", help="only topics whose name matches this regex")
    parser.add_argument(
        "--include-internal-topics",
        action="store_true",
        help="also scan __consumer_offsets and other internal topics",
    )
    parser.add_argument(
        "--keyspace",
        action="append",
        default=[],
        help="scan this keyspace (repeatable; default: CASSANDRA_KEYSPACE)",
    )
    parser.add_argument("--table", action="append", default=[], help="only this table (repeatable)")
    parser.add_argument(
        "--bucket", action="append", default=[], help="only this bucket (repeatable)"
    )
    parser.add_argument(
        "--label", help="an opaque label for the report (an erasure request id), not an identifier"
    )
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging("residual-scan", args.log_level)
    # the server's tombstone warnings, one per page of a table with deletes: the scan reads past
    # them on purpose
    logging.getLogger("cassandra.protocol").setLevel(logging.ERROR)
    try:
        text = sys.stdin.read() if args.subject == "-" else Path(args.subject).read_text()
        subject = load_subject(text)
        stores = tuple(s.strip() for s in args.stores.split(",") if s.strip())
        unknown = sorted(set(stores) - set(STORES))
        if unknown or not stores:
            raise SubjectError(f"--stores: unknown {unknown}; choose from {list(STORES)}")
        settings = StoreSettings.from_env()
    except (OSError, SubjectError, ValidationError) as err:
        print(f"residual-scan: {err}", file=sys.stderr)
        return EXIT_ERROR
    request = ScanRequest(
        subject=subject,
        stores=stores,
        topics=tuple(args.topic),
        topic_pattern=args.topic_pattern,
        include_internal_topics=args.include_internal_topics,
        keyspaces=tuple(args.keyspace),
        tables=tuple(args.table),
        buckets=tuple(args.bucket),
        label=args.label,
    )
    try:
        result = run_scan(request, settings)
    except ValueError as err:
        print(f"residual-scan: {err}", file=sys.stderr)
        return EXIT_ERROR
    document = json.dumps(result.report, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(document)
    else:
        sys.stdout.write(document)
    for error in result.errors:
        print(f"residual-scan: {error}", file=sys.stderr)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
