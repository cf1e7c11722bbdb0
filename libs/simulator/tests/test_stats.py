"""The books, the percentiles and the summary texts."""

from __future__ import annotations

import pytest

from trackstream_simulator.stats import (
    Counters,
    Ledger,
    Reservoir,
    Summary,
    percentile,
    progress_line,
    summary_text,
)


def test_percentiles_use_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 1) == 3.0
    assert percentile([], 50) is None


def test_the_reservoir_is_bounded_and_keeps_a_spread_sample() -> None:
    reservoir = Reservoir(capacity=1000)
    for value in range(100_000):
        reservoir.add(float(value))
    assert reservoir.seen == 100_000 and len(reservoir.values) == 1000
    assert percentile(reservoir.values, 50) == pytest.approx(50_000, rel=0.1)
    small = Reservoir(capacity=10)
    for value in range(5):
        small.add(float(value))
    assert small.values == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_summaries_add_up_groups_and_report_what_is_unaccounted() -> None:
    a = Counters(devices=2, sent=10, acked=7, rejected=1, positions=12)
    b = Counters(devices=1, sent=5, acked=5, positions=5)
    for value in (0.001, 0.002, 0.003):
        a.latencies.add(value)
    total = Summary.of([(a, Ledger(in_flight=2, queued=3)), (b, Ledger(buffered=4))], 2.0)
    assert (total["devices"], total["sent"], total["acked"], total["positions"]) == (3, 15, 12, 17)
    assert total.ledger == Ledger(in_flight=2, queued=3, buffered=4)
    assert total.unaccounted == 0
    assert total.rate == 6.0
    data = total.to_dict()
    assert data["ack_latency_ms"] == {"p50": 2.0, "p95": 3.0, "p99": 3.0, "max": 3.0}
    assert (data["in_flight"], data["queued"], data["buffered"]) == (2, 3, 4)
    assert "connected" not in data  # a gauge, meaningless at the end
    lost = Summary.of([(Counters(sent=10, acked=7), Ledger(in_flight=2))], 1.0)
    assert lost.unaccounted == 1


def test_progress_and_summary_texts_name_the_numbers() -> None:
    c = Counters(devices=4, connected=3, sent=20, acked=18, resends=2, reconnects=1)
    total = Summary.of([(c, Ledger(in_flight=2))], 5.0)
    line = progress_line(5.0, total, written_per_s=12.5)
    for part in ("connected 3/4", "sent 20", "acked 18", "in-flight 2", "resends 2",
                 "reconnects 1", "12.5 msg/s"):  # fmt: skip
        assert part in line
    text = summary_text(total, {"gt06": total, "jt808": Summary.of([], 5.0)})
    assert "gt06" in text and "jt808" not in text and "unaccounted 0" in text
