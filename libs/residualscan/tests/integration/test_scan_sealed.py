"""Sealed records: an identifier that lives only in a sealed field is found while the subject's
data key exists (the scanner opens the header with it, read from the key store), and no longer
once the key is destroyed (the erasure's crypto-shredding)."""

from __future__ import annotations

import uuid

from libs.residualscan.tests.subjects import fresh_subject
from trackstream.tracking.v1.fix_pb2 import Fix
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_cassandra import CassandraSettings, CassandraStore, connect
from trackstream_kafka.publisher import EventPublisher
from trackstream_kafka.sealing import CassandraDataKeyStore, DataKeys
from trackstream_kafka.settings import KafkaSettings
from trackstream_residual_scan.matcher import Matcher
from trackstream_residual_scan.patterns import derive_patterns
from trackstream_residual_scan.sealed import SealedOpener
from trackstream_residual_scan.stores.kafka import KafkaScan, scan_kafka
from trackstream_residual_scan.subject import IdentifierKind


async def test_a_sealed_identifier_is_found_before_and_not_after_the_key_is_destroyed(
    kafka_settings: KafkaSettings, cassandra_settings: CassandraSettings, topic: str
) -> None:
    subject = fresh_subject()
    device = f"dev-{uuid.uuid4()}"  # the record key (a pseudonym the closure does not list)
    plate = subject.of_kind(IdentifierKind.PLATE)[0].value
    name = subject.of_kind(IdentifierKind.NAME)[0].value
    store = CassandraStore(connect(cassandra_settings, keyspace=cassandra_settings.keyspace))
    # the platform's producer side, sealing the topic as the catalog seals positions
    publisher = EventPublisher.create(
        kafka_settings,
        source="/tests/residualscan",
        data_keys=DataKeys(CassandraDataKeyStore(store), seals=lambda t: t == topic),
    )
    await publisher.start()
    try:
        event = PositionReported(device_id=device, fix=Fix(latitude=1.0, longitude=2.0))
        event.attributes["plate"] = plate
        event.attributes["driver"] = name
        await publisher.publish(topic, event, key=device)
    finally:
        await publisher.stop()
    matcher = Matcher(derive_patterns(subject))
    session = connect(cassandra_settings, keyspace=cassandra_settings.keyspace)
    try:

        async def scan(opener: SealedOpener | None) -> KafkaScan:
            return await scan_kafka(
                kafka_settings, matcher, topics=[topic], stall_timeout_s=30, opener=opener
            )

        # bytes alone: the ciphertext hides them (this is why the scanner opens sealed headers)
        assert (await scan(None)).hits == []
        before = await scan(SealedOpener(session))
        assert {(h.field, h.identifier) for h in before.hits} == {
            ("sealed", "plate:0"),
            ("sealed", "name:0"),
        }
        assert before.sealed == {"opened": 1, "no_key": 0, "unreadable": 0}

        assert await DataKeys(CassandraDataKeyStore(store)).destroy(device) is True
        after = await scan(SealedOpener(session))
        assert after.hits == []
        assert after.sealed == {"opened": 0, "no_key": 1, "unreadable": 0}
    finally:
        session.cluster.shutdown()
        store.close()
