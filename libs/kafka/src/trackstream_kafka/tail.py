"""Print a topic's events as JSON lines (envelope + decoded protobuf), for people and scripts.

    python -m trackstream_kafka.tail tracking.positions.v1               # new events, follow
    python -m trackstream_kafka.tail tracking.positions.v1 --from-beginning --limit 20
    python -m trackstream_kafka.tail tracking.device-alarms.v1 --key <device id>

Reads outside any consumer group (commits nothing). Connection from ``KAFKA_*`` variables.
Sealed records (``trackstream_kafka.sealing``) are opened with the data keys in Cassandra
(``CASSANDRA_*``), as every consumer opens them; ``--sealed`` shows them as stored instead.
A record whose subject was erased shows ``"shredded": true`` and no data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from google.protobuf.json_format import MessageToDict

from trackstream_events.envelope import Envelope, InvalidEnvelope
from trackstream_events.registry import EventRegistry, UnknownEventType, default_registry
from trackstream_kafka.sealing import (
    CassandraDataKeyStore,
    DataKeys,
    OpenKeys,
    SealingError,
    Shredded,
    keys_for_records,
    open_record,
)
from trackstream_kafka.settings import KafkaSettings


def render(
    record: ConsumerRecord[bytes, bytes],
    registry: EventRegistry,
    *,
    data_keys: DataKeys | None = None,
    keys: OpenKeys | None = None,
) -> dict[str, Any]:
    """One record as a JSON-able dict; undecodable records say why instead of failing. With
    ``data_keys`` (and the fetch's ``keys``), a sealed record is opened first."""
    out: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": record.key.decode("utf-8", "replace") if record.key else None,
    }
    if record.value is None:
        out["tombstone"] = True
        return out
    try:
        envelope = Envelope.from_headers(record.headers)
    except InvalidEnvelope as err:
        out["error"] = str(err)
        return out
    out.update(
        id=envelope.id, type=envelope.type, source=envelope.source, time=envelope.time.isoformat()
    )
    try:
        message = registry.decode(envelope.type, record.value)
        open_record(message, record, envelope.id, keys or {}, data_keys)
        out["data"] = MessageToDict(message, preserving_proto_field_name=True)
    except Shredded:
        out["shredded"] = True  # its subject was erased: the sealed fields are gone for good
    except (UnknownEventType, SealingError, ValueError) as err:
        out["error"] = f"{type(err).__name__}: {err}"
    return out


async def tail(
    topic: str,
    *,
    from_beginning: bool,
    key: str | None,
    limit: int | None,
    open_sealed: bool = True,
) -> int:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=KafkaSettings().bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    registry, printed = default_registry(), 0
    store = None
    if open_sealed:
        from trackstream_cassandra import CassandraSettings, CassandraStore, connect

        cassandra = CassandraSettings()
        store = CassandraStore(connect(cassandra, keyspace=cassandra.keyspace))
    data_keys = DataKeys(CassandraDataKeyStore(store)) if store is not None else None
    try:
        async for record in consumer:
            if key is not None and record.key != key.encode():
                continue
            keys = await keys_for_records(data_keys, [[record]])
            line = render(record, registry, data_keys=data_keys, keys=keys)
            print(json.dumps(line, ensure_ascii=False), flush=True)
            printed += 1
            if limit is not None and printed >= limit:
                break
    finally:
        await consumer.stop()
        if store is not None:
            store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("topic")
    parser.add_argument("--from-beginning", action="store_true")
    parser.add_argument("--key", help="only this key (a device or subject id)")
    parser.add_argument("--limit", type=int, help="stop after this many events")
    parser.add_argument(
        "--sealed", action="store_true", help="do not open sealed fields (no Cassandra needed)"
    )
    args = parser.parse_args(argv)
    try:
        return asyncio.run(
            tail(
                args.topic,
                from_beginning=args.from_beginning,
                key=args.key,
                limit=args.limit,
                open_sealed=not args.sealed,
            )
        )
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
