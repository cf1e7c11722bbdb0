"""The alarm engine hosted by faust-streaming, for ``benchmarks/alarm.py`` (run as its own
process: ``python -m benchmarks.alarm_faust worker``; settings from ``BENCH_*`` variables).

An agent over the positions topic applies each position with the same ``Engine``, geofence
index and rules as the service; the per-device state lives in a faust ``Table`` (memory store,
changelog topic), and alarms are sent to a topic. It writes its rate (first record to the
``BENCH_COUNT``-th) to ``BENCH_OUT`` and exits.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import faust

from alarm.adapters.codec import alarm_message, position_of, state_message
from alarm.domain.engine import DeviceState, Engine
from benchmarks.alarm import scenario
from trackstream.tracking.v1.position_pb2 import PositionReported

COUNT = int(os.environ.get("BENCH_COUNT", "0"))
OUT = Path(os.environ.get("BENCH_OUT", "/tmp/alarm-faust.json"))
DATA = scenario(int(os.environ.get("BENCH_SEED", "7")))
DEFINITIONS = DATA.definitions()
INDEX = DEFINITIONS.index
ENGINE = Engine()

app = faust.App(
    os.environ.get("BENCH_APP", "alarm-bench-faust"),
    broker="kafka://127.0.0.1:9092",
    store="memory://",
    web_enabled=False,
    topic_partitions=6,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
)
positions = app.topic(
    os.environ.get("BENCH_POSITIONS", "bench.positions"),
    key_serializer="raw",
    value_serializer="raw",
)
alarms = app.topic(
    os.environ.get("BENCH_ALARMS", "bench.alarms"), key_serializer="raw", value_serializer="raw"
)
states = app.Table(
    "device-state",
    partitions=6,
    schema=faust.Schema(
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    ),
)
#: decoded states (the table holds their bytes, for its changelog)
held: dict[str, DeviceState] = {}
progress = {"seen": 0, "started": 0.0}


@app.agent(positions)
async def process(stream: Any) -> None:
    async for event in stream.events():
        if not progress["started"]:
            progress["started"] = time.perf_counter()
        position = position_of(PositionReported.FromString(event.value))
        device = position.device_id
        state = held.get(device) or DeviceState(device)
        account = DATA.owners.get(device, "")
        placements = INDEX.place(
            position.latitude,
            position.longitude,
            device_id=device,
            account_id=account,
            also=state.fences,
        )
        raised = ENGINE.apply_position(
            state,
            position,
            account_id=account,
            rules=DEFINITIONS.rules_of(account),
            placements=placements,
        )
        for alarm in raised:
            await alarms.send(key=device.encode(), value=alarm_message(alarm).SerializeToString())
        held[device] = state
        states[device.encode()] = state_message(state).SerializeToString()
        progress["seen"] += 1
        if progress["seen"] >= COUNT:
            rate = COUNT / (time.perf_counter() - progress["started"])
            OUT.write_text(json.dumps({"rate": rate}))
            os._exit(0)


if __name__ == "__main__":
    app.main()
