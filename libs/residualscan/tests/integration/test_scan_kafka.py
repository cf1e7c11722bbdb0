"""Kafka: every planted record is found where it was written (key, value, header), nothing of
another subject is, and once the subject's records are deleted the same scan finds none."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from google.protobuf.wrappers_pb2 import BytesValue

from libs.residualscan.tests.subjects import IDENTIFIER_KEY, fresh_subject
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_kafka.settings import KafkaSettings
from trackstream_protocols.gt06.device import encode_login
from trackstream_protocols.jt808.device import encode_heartbeat
from trackstream_protocols.jt808.header import Jt808Address
from trackstream_residual_scan.matcher import Matcher
from trackstream_residual_scan.patterns import derive_patterns
from trackstream_residual_scan.stores.kafka import scan_kafka
from trackstream_residual_scan.subject import IdentifierKind, Subject

Planted = set[tuple[int, int, str, str, str]]  # partition, offset, field, identifier, encoding


def _value(subject: Subject, kind: IdentifierKind, index: int = 0) -> str:
    return subject.of_kind(kind)[index].value


async def _plant(
    producer: AIOKafkaProducer, topic: str, partition: int, subject: Subject
) -> Planted:
    """The subject's identifiers as our services and devices put them on a topic."""
    account = _value(subject, IdentifierKind.ID, 0)
    device = _value(subject, IdentifierKind.ID, 1)
    imei = _value(subject, IdentifierKind.DEVICE_IDENTIFIER, 0)
    phone = _value(subject, IdentifierKind.DEVICE_IDENTIFIER, 1)
    email = _value(subject, IdentifierKind.EMAIL)
    planted: Planted = set()

    async def send(
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        *hits: tuple[str, str, str],
    ) -> None:
        meta = await producer.send_and_wait(
            topic, value, key=key, partition=partition, headers=headers
        )
        planted.update((partition, meta.offset, field, ref, enc) for field, ref, enc in hits)

    position = PositionReported(device_id=device).SerializeToString()
    await send(
        device.encode(),
        position,
        [("ce_subject", device.encode()), ("ce_type", b"tracking.v1.PositionReported")],
        ("key", "id:1", "utf8"),
        ("value", "id:1", "utf8"),
        ("header:ce_subject", "id:1", "utf8"),
    )
    await send(device.encode(), None, [], ("key", "id:1", "utf8"))  # a tombstone: key only
    registered = DeviceRegistered(
        device_id=device,
        owner_account_id=account,
        identifier_hmac=identifier_hmac(IDENTIFIER_KEY, imei),
    ).SerializeToString()
    await send(
        None,
        registered,
        [],
        ("value", "id:1", "utf8"),
        ("value", "id:0", "utf8"),
        ("value", "identifier_hmac:0", "hmac-bytes"),
    )
    await send(
        None, encode_login(imei, serial=1), [], ("value", "device_identifier:0", "bcd-gt06-imei")
    )
    await send(
        None,
        encode_heartbeat(Jt808Address.from_phone(phone, 1), serial=2),
        [],
        ("value", "device_identifier:1", "bcd-jt808-2019"),
        ("value", "device_identifier:1", "bcd-jt808-2013"),
    )
    note = json.dumps(
        {"to": email.upper(), "blob": base64.b64encode(b"ab" + email.encode()).decode()}
    )
    await send(
        None, note.encode(), [], ("value", "email:0", "utf8"), ("value", "email:0", "base64")
    )
    await send(
        None,
        b"plain",
        [("owner", BytesValue(value=uuid.UUID(account).bytes).SerializeToString())],
        ("header:owner", "id:0", "uuid-bytes"),
    )
    return planted


async def _scan(
    settings: KafkaSettings, subject: Subject, topic: str
) -> tuple[Planted, dict[str, object]]:
    matcher = Matcher(derive_patterns(subject, identifier_key=IDENTIFIER_KEY))
    result = await scan_kafka(settings, matcher, topics=[topic], stall_timeout_s=30)
    found = {
        (
            int(str(dict(h.location)["partition"])),
            int(str(dict(h.location)["offset"])),
            h.field,
            h.identifier,
            h.encoding,
        )
        for h in result.hits
    }
    return found, result.as_json()


async def test_kafka_positive_control_other_subject_and_removal(
    kafka_settings: KafkaSettings, topic: str
) -> None:
    subject, other, absent = fresh_subject(), fresh_subject(), fresh_subject()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        planted = await _plant(producer, topic, 0, subject)
        planted_other = await _plant(producer, topic, 1, other)
    finally:
        await producer.stop()

    found, report = await _scan(kafka_settings, subject, topic)
    assert found == planted  # every planted hit, where it was written, and nothing else
    partitions = report["topics"][topic]  # type: ignore[index]
    assert [p["records"] for p in partitions] == [7, 7]
    assert (await _scan(kafka_settings, other, topic))[0] == planted_other
    assert (await _scan(kafka_settings, absent, topic))[0] == set()

    # remove the subject's records (partition 0) and scan again: zero hits, the rest still read
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before_offset=7)})
    finally:
        await admin.close()
    found, report = await _scan(kafka_settings, subject, topic)
    assert found == set()
    partitions = report["topics"][topic]  # type: ignore[index]
    assert [(p["start_offset"], p["records"]) for p in partitions] == [(7, 0), (0, 7)]
    assert (await _scan(kafka_settings, other, topic))[0] == planted_other


async def test_every_topic_of_the_broker_by_default_and_internal_ones_skipped(
    kafka_settings: KafkaSettings, topic: str
) -> None:
    subject = fresh_subject()
    matcher = Matcher(derive_patterns(subject))
    # the default is every topic; restricted by pattern here only to keep the test short
    result = await scan_kafka(kafka_settings, matcher, topic_pattern=r"^(test\.residualscan|__)")
    assert topic in result.as_json()["topics"]  # type: ignore[operator]
    assert "__consumer_offsets" in result.skipped_internal_topics
    with pytest.raises(Exception, match="no such topics"):
        await scan_kafka(kafka_settings, matcher, topics=["test.nosuchtopic.v1"])
