from __future__ import annotations

from trackstream_kafka.index import SecondaryIndex


def test_lookup_follows_changes_and_tombstones() -> None:
    index: SecondaryIndex[dict[str, bytes], bytes] = SecondaryIndex(lambda v: v["hmac"])
    index.apply("dev-1", {"hmac": b"a"})
    assert index.lookup(b"a") == "dev-1"
    index.apply("dev-1", {"hmac": b"b"})  # re-registered under another identifier
    assert index.lookup(b"a") is None
    assert index.lookup(b"b") == "dev-1"
    index.apply("dev-2", {"hmac": b"a"})
    index.apply("dev-1", None)
    assert index.lookup(b"b") is None
    assert index.lookup(b"a") == "dev-2"
    assert len(index) == 1
