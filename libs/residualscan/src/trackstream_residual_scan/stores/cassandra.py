"""Cassandra: every table and materialised view of the given keyspaces, read whole.

The tables come from ``system_schema`` (what the cluster holds, not what our migrations say).
Each is read by token range: the Murmur3 ring split into ``splits`` ranges ``(lo, hi]``, each
paged (``fetch_size`` rows) with the paging state kept, so a failed page is retried alone.
Reads use consistency ALL: every replica answers, and a node that is down fails the scan
instead of hiding its copy. Another partitioner is read by one paged full scan.

What this cannot see: tombstoned data that compaction has not purged yet is on disk but not
readable through CQL (``sstabledump`` shows it); the report says so.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import ExecutionProfile, Session
from cassandra.policies import RoundRobinPolicy
from cassandra.query import SimpleStatement, tuple_factory

from trackstream_residual_scan.cells import cell_forms
from trackstream_residual_scan.matcher import Matcher
from trackstream_residual_scan.report import Hit, HitCollector

log = logging.getLogger(__name__)

MIN_TOKEN = -(2**63)
MAX_TOKEN = 2**63 - 1
_PROFILE = "residual-scan"
_PAGE_ATTEMPTS = 3


class CassandraScanError(Exception):
    pass


@dataclass(slots=True)
class TableCoverage:
    keyspace: str
    table: str
    kind: str  # table or view
    token_ranges: int = 0
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0
    error: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "table": f"{self.keyspace}.{self.table}",
            "kind": self.kind,
            "token_ranges": self.token_ranges,
            "rows": self.rows,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


@dataclass(slots=True)
class CassandraScan:
    hits: list[Hit]
    tables: list[TableCoverage]
    partitioner: str
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.tables)

    @property
    def errors(self) -> list[str]:
        return [f"{t.keyspace}.{t.table}: {t.error}" for t in self.tables if t.error]

    def as_json(self) -> dict[str, object]:
        return {
            "partitioner": self.partitioner,
            "token_range": [MIN_TOKEN, MAX_TOKEN],
            "tables": [t.as_json() for t in self.tables],
            "table_count": len(self.tables),
            "rows": self.rows,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows / self.seconds, 1) if self.seconds else 0.0,
            "mb_per_s": round(self.bytes / 1e6 / self.seconds, 2) if self.seconds else 0.0,
            "hits": len(self.hits),
            "errors": self.errors,
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class _Table:
    keyspace: str
    name: str
    kind: str
    partition_key: tuple[str, ...]
    clustering: tuple[str, ...]
    #: every column: the primary key's, then static and regular ones by name
    columns: tuple[str, ...]


def token_splits(splits: int) -> list[tuple[int, int]]:
    """``splits`` consecutive ranges ``(lo, hi]`` covering the whole Murmur3 ring."""
    if splits < 1:
        raise ValueError("splits must be at least 1")
    span = MAX_TOKEN - MIN_TOKEN
    bounds = [MIN_TOKEN + span * i // splits for i in range(splits)] + [MAX_TOKEN]
    return list(itertools.pairwise(bounds))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def scan_cassandra(
    session: Session,
    matcher: Matcher,
    *,
    keyspaces: Sequence[str],
    tables: Sequence[str] = (),
    splits: int = 64,
    fetch_size: int = 500,
    concurrency: int = 4,
    request_timeout_s: float = 60.0,
) -> CassandraScan:
    """Scan every table of ``keyspaces`` (or only ``tables``: ``name`` or ``keyspace.name``)."""
    started = time.monotonic()
    if _PROFILE not in session.cluster.profile_manager.profiles:
        session.cluster.add_execution_profile(
            _PROFILE,
            ExecutionProfile(
                load_balancing_policy=RoundRobinPolicy(),
                consistency_level=ConsistencyLevel.ALL,
                request_timeout=request_timeout_s,
                row_factory=tuple_factory,
            ),
        )
    partitioner = str(session.execute("SELECT partitioner FROM system.local").one()[0])
    schema = _tables(session, keyspaces, tables)
    ranges = (
        token_splits(splits)
        if partitioner.endswith("Murmur3Partitioner")
        else [(MIN_TOKEN, MAX_TOKEN)]
    )
    hits = HitCollector("cassandra")
    coverage: list[TableCoverage] = []
    for table in schema:
        covered = TableCoverage(table.keyspace, table.name, table.kind)
        coverage.append(covered)
        table_started = time.monotonic()
        try:
            _scan_table(
                session, matcher, table, ranges, partitioner, fetch_size, concurrency, covered, hits
            )
        except Exception as err:  # recorded per table; the scan as a whole then fails (exit 2)
            covered.error = f"{type(err).__name__}: {err}"
            log.warning(
                "cassandra table scan failed",
                extra={"table": f"{table.keyspace}.{table.name}", "error": covered.error},
            )
        covered.seconds = time.monotonic() - table_started
        log.info(
            "cassandra table scanned",
            extra={
                "table": f"{table.keyspace}.{table.name}",
                "rows": covered.rows,
                "seconds": round(covered.seconds, 1),
            },
        )
    result = CassandraScan(hits.hits(), coverage, partitioner, time.monotonic() - started)
    result.notes.append(
        "CQL reads live data only: deleted cells not yet purged by compaction (gc_grace) are "
        "on disk but not read here; sstabledump is the physical check"
    )
    return result


def _tables(session: Session, keyspaces: Sequence[str], only: Sequence[str]) -> list[_Table]:
    known = {r[0] for r in session.execute("SELECT keyspace_name FROM system_schema.keyspaces")}
    missing = sorted(set(keyspaces) - known)
    if missing:
        raise CassandraScanError(f"no such keyspaces: {missing}")
    found: list[_Table] = []
    for keyspace in keyspaces:
        names = [
            (r[0], "table")
            for r in session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", [keyspace]
            )
        ] + [
            (r[0], "view")
            for r in session.execute(
                "SELECT view_name FROM system_schema.views WHERE keyspace_name = %s", [keyspace]
            )
        ]
        for name, kind in sorted(names):
            columns = list(
                session.execute(
                    "SELECT column_name, kind, position FROM system_schema.columns "
                    "WHERE keyspace_name = %s AND table_name = %s",
                    [keyspace, name],
                )
            )
            ordered = sorted(columns, key=lambda c: c[2])
            key = tuple(c[0] for c in ordered if c[1] == "partition_key")
            clustering = tuple(c[0] for c in ordered if c[1] == "clustering")
            others = tuple(sorted(c[0] for c in columns if c[1] in ("static", "regular")))
            found.append(_Table(keyspace, name, kind, key, clustering, key + clustering + others))
    if only:
        wanted = set(only)
        chosen = [t for t in found if t.name in wanted or f"{t.keyspace}.{t.name}" in wanted]
        unknown = sorted(
            w for w in wanted if not any(w in (t.name, f"{t.keyspace}.{t.name}") for t in chosen)
        )
        if unknown:
            raise CassandraScanError(f"no such tables in {list(keyspaces)}: {unknown}")
        return chosen
    return found


def _scan_table(
    session: Session,
    matcher: Matcher,
    table: _Table,
    ranges: list[tuple[int, int]],
    partitioner: str,
    fetch_size: int,
    concurrency: int,
    covered: TableCoverage,
    hits: HitCollector,
) -> None:
    key = ", ".join(_quote(c) for c in table.partition_key)
    source = f"{_quote(table.keyspace)}.{_quote(table.name)}"
    selected = ", ".join(_quote(c) for c in table.columns)
    cql = f"SELECT token({key}), {selected} FROM {source}"
    if partitioner.endswith("Murmur3Partitioner"):
        cql += f" WHERE token({key}) > %s AND token({key}) <= %s"
    else:
        ranges = ranges[:1]
    statement = SimpleStatement(cql, fetch_size=fetch_size)
    primary_key = table.partition_key + table.clustering

    def scan_range(bounds: tuple[int, int]) -> tuple[int, int, HitCollector]:
        """One token range, page by page: (rows, bytes, hits), merged by the caller."""
        found = HitCollector(hits.store)
        rows_read = bytes_read = 0
        params = list(bounds) if "%s" in cql else None
        paging_state: bytes | None = None
        while True:
            result = _page(session, statement, params, paging_state)
            rows = result.current_rows
            if rows:
                rows_read += len(rows)
                bytes_read += _match_rows(matcher, table, rows, primary_key, found)
            paging_state = result.paging_state
            if not paging_state:
                return rows_read, bytes_read, found

    # a few ranges in flight: a page costs the server far more than it costs us to search it
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="scan") as pool:
        for rows_read, bytes_read, found in pool.map(scan_range, ranges):
            covered.rows += rows_read
            covered.bytes += bytes_read
            covered.token_ranges += 1
            hits.merge(found)


def _page(
    session: Session, statement: SimpleStatement, params: list[int] | None, paging_state: Any
) -> Any:
    for attempt in range(1, _PAGE_ATTEMPTS + 1):
        try:
            return session.execute(
                statement, params, paging_state=paging_state, execution_profile=_PROFILE
            )
        except Exception:
            if attempt == _PAGE_ATTEMPTS:
                raise
            time.sleep(0.5 * attempt)  # backoff between retries of one page (not a sync)
    raise AssertionError("unreachable")


def _match_rows(
    matcher: Matcher,
    table: _Table,
    rows: list[tuple[Any, ...]],
    primary_key: tuple[str, ...],
    hits: HitCollector,
) -> int:
    """Search one page of rows (one buffer); returns the bytes searched. Row ``i`` is
    ``(token, *table.columns)``."""
    columns = table.columns
    owners: list[int] = []
    slots: list[int] = []
    parts: list[bytes] = []
    for index, row in enumerate(rows):
        for slot, value in enumerate(row):
            if slot == 0 or value is None:
                continue  # the token
            for form in cell_forms(value):
                parts.append(form)
                owners.append(index)
                slots.append(slot)
    for part, _offset, pattern in matcher.find_in_parts(parts):
        row = rows[owners[part]]
        values = dict(zip(columns, row[1:], strict=True))
        shown = {c: matcher.redact(_display(values.get(c))) for c in primary_key}
        location = (
            ("table", f"{table.keyspace}.{table.name}"),
            ("token", int(row[0])),
            ("primary_key", json.dumps(shown, sort_keys=True, ensure_ascii=True)),
        )
        hits.add(location, columns[slots[part] - 1], pattern)
    return sum(map(len, parts))


def _display(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value)
