"""One compiled automaton for all of a subject's patterns, run over many fields at once.

Python's ``re`` backtracks through every alternative at every offset (about 1 MB/s for the 200
or so patterns of a subject); RE2 compiles the alternation into a DFA that reads each byte once.
Calls cost more than bytes, so callers hand over many fields (every key, value and header of a
fetched Kafka batch; every cell of a page of rows) joined into one buffer: one search per
buffer, and on the rare hit the match is mapped back to its field.

Overlaps are not lost: after a match at offset ``s`` the search resumes at ``s + 1``, and the
shorter patterns that match at ``s`` too (a 6-byte BCD phone inside its 10-byte form) are
looked up by length.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import re2

from trackstream_residual_scan.patterns import Pattern

T = TypeVar("T")

#: RE2's DFA memory; past it RE2 falls back to a slower engine (correct, not fast)
_MAX_MEM = 256 << 20


@dataclass(frozen=True, slots=True)
class FieldMatch(Generic[T]):
    field: T
    pattern: Pattern
    #: offset within the field
    offset: int


def _escape(data: bytes) -> bytes:
    """An RE2 (Latin-1) literal for ``data``: letters and digits as they are, the rest as
    ``\\xHH`` (never a metacharacter, never a byte RE2 would read as UTF-8)."""
    return b"".join(
        bytes([b])
        if (0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A)
        else b"\\x%02x" % b
        for b in data
    )


class Matcher:
    def __init__(self, patterns: Sequence[Pattern]) -> None:
        if not patterns:
            raise ValueError("a matcher needs at least one pattern")
        self.patterns = tuple(patterns)
        self._exact: dict[bytes, list[Pattern]] = {}
        self._folded: dict[bytes, list[Pattern]] = {}
        for pattern in self.patterns:
            table = self._folded if pattern.case_insensitive else self._exact
            table.setdefault(pattern.key, []).append(pattern)
        self._lengths = sorted({len(p.data) for p in self.patterns}, reverse=True)
        self.max_length = self._lengths[0]
        # longest first: at one offset the longest pattern wins and the shorter ones that also
        # match there are found by length (_at)
        ordered = sorted(self.patterns, key=lambda p: -len(p.data))
        alternatives = [
            (b"(?i:" + _escape(p.data) + b")") if p.case_insensitive else _escape(p.data)
            for p in ordered
        ]
        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1
        options.max_mem = _MAX_MEM
        options.never_capture = True
        options.log_errors = False
        self._regex: Any = re2.compile(b"|".join(dict.fromkeys(alternatives)), options)

    def _at(self, buffer: bytes, start: int, end: int) -> list[Pattern]:
        """Every pattern matching ``buffer`` at ``start`` (the automaton found one ending at
        ``end``; shorter ones may match there too)."""
        found: list[Pattern] = []
        for length in self._lengths:
            if length > end - start:
                continue
            chunk = buffer[start : start + length]
            exact = self._exact.get(chunk)
            if exact:
                found.extend(exact)
            folded = self._folded.get(chunk.lower())
            if folded:
                found.extend(folded)
        return found

    def find(self, buffer: bytes) -> list[tuple[int, Pattern]]:
        """Every (offset, pattern) in ``buffer``, overlapping ones included."""
        hits: list[tuple[int, Pattern]] = []
        search = self._regex.search
        position = 0
        while True:
            match = search(buffer, position)
            if match is None:
                return hits
            start, end = match.span()
            hits.extend((start, p) for p in self._at(buffer, start, end))
            position = start + 1

    def find_in_parts(self, parts: Sequence[bytes]) -> list[tuple[int, int, Pattern]]:
        """Every (part index, offset in the part, pattern) of ``parts``, searched as one buffer;
        a match spanning two parts is no match."""
        if not parts:
            return []
        raw = self.find(b"".join(parts))
        if not raw:
            return []
        ends = list(itertools.accumulate(map(len, parts)))
        matches: list[tuple[int, int, Pattern]] = []
        for start, pattern in raw:
            index = bisect.bisect_right(ends, start)
            part_start = ends[index] - len(parts[index])
            if start + len(pattern.data) <= ends[index]:
                matches.append((index, start - part_start, pattern))
        return matches

    def find_in_fields(self, fields: Sequence[tuple[T, bytes]]) -> list[FieldMatch[T]]:
        """:meth:`find_in_parts` for labelled fields."""
        return [
            FieldMatch(fields[index][0], pattern, offset)
            for index, offset, pattern in self.find_in_parts([data for _, data in fields])
        ]

    def redact(self, text: str) -> str:
        """``text`` with every identifier replaced by its reference (``<email:0>``): what a
        report may show of a key or a primary key."""
        raw = text.encode()
        hits = self.find(raw)
        if not hits:
            return text
        merged: list[tuple[int, int, list[str]]] = []
        for start, pattern in sorted(hits, key=lambda hit: hit[0]):
            end = start + len(pattern.data)
            if merged and start < merged[-1][1]:
                last_start, last_end, refs = merged[-1]
                if pattern.ref not in refs:
                    refs.append(pattern.ref)
                merged[-1] = (last_start, max(last_end, end), refs)
            else:
                merged.append((start, end, [pattern.ref]))
        out = bytearray()
        cursor = 0
        for start, end, refs in merged:
            out += raw[cursor:start] + ("<" + ",".join(refs) + ">").encode()
            cursor = end
        out += raw[cursor:]
        return out.decode(errors="replace")
