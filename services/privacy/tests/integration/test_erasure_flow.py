"""The privacy service against the real Kafka and Cassandra, with stand-in participants that
acknowledge every planned store through the real ErasureParticipant: an erasure asked over gRPC
ends with one verifiable certificate; a participant that was down is reached by a re-send; the
privacy service killed mid-erasure resumes from its ledger and still issues exactly one."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from privacy.bootstrap import PrivacyApp, bootstrap
from privacy.config import PrivacySettings
from privacy.domain.certificate import verify_certificate
from privacy.domain.plan import PARTICIPANT_STORES
from privacy.handlers import ACKS_TOPIC, ORDERS_TOPIC, REQUESTS_TOPIC
from tests.integration.helpers import end_offsets, read_all, records_at, start_group_at_end
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream.privacy.v1 import privacy_service_pb2 as pb
from trackstream.privacy.v1 import privacy_service_pb2_grpc as pb_grpc
from trackstream.privacy.v1.erasure_pb2 import (
    ErasureAcknowledged,
    ErasureOrdered,
    ErasureRequested,
    StoreErased,
    SubjectKind,
)
from trackstream_auth import parse_jwks
from trackstream_cassandra import CassandraStore, connect
from trackstream_kafka import EventPublisher, KafkaSettings
from trackstream_kafka.compaction import ROLL_KEY
from trackstream_kafka.erasure import Erase, ErasureParticipant
from trackstream_kafka.sealing import CassandraDataKeyStore, DataKeys, SubjectShredded

REGISTRY = "identity.device-registry.v1"


class StandIns:
    """One ErasureParticipant per planned participant, erasing nothing and acknowledging
    every planned store (the real participants have their own tests)."""

    def __init__(self, kafka: KafkaSettings, tag: str, publisher: EventPublisher) -> None:
        self.orders: dict[str, list[ErasureOrdered]] = {p: [] for p in PARTICIPANT_STORES}
        self.kafka, self.tag, self.publisher = kafka, tag, publisher
        self.running: dict[str, tuple[ErasureParticipant, asyncio.Task[None]]] = {}

    def _erase(self, name: str) -> Erase:
        async def erase(order: ErasureOrdered) -> list[StoreErased]:
            self.orders[name].append(order)
            return [StoreErased(store=s, mechanism="row-delete") for s in PARTICIPANT_STORES[name]]

        return erase

    async def start(self, *names: str) -> None:
        for name in names:
            group = f"{self.tag}-{name}"
            await start_group_at_end(self.kafka, group, ORDERS_TOPIC)
            participant = ErasureParticipant(
                settings=self.kafka,
                participant=name,
                erase=self._erase(name),
                publisher=self.publisher,
                group_id=group,
            )
            await participant.start()
            self.running[name] = (participant, asyncio.create_task(participant.run()))

    async def stop(self) -> None:
        for participant, task in self.running.values():
            participant.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 20)
        self.running.clear()


async def _start(settings: PrivacySettings) -> tuple[PrivacyApp, asyncio.Event, asyncio.Task[None]]:
    app = bootstrap(settings)
    stopping = asyncio.Event()
    task = asyncio.create_task(app.run(stopping))
    await asyncio.wait_for(app.ready.wait(), 60)
    return app, stopping, task


async def _status(port: int, request_id: str) -> pb.ErasureStatus:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        status: pb.ErasureStatus = await pb_grpc.PrivacyServiceStub(channel).GetErasure(
            pb.GetErasureRequest(request_id=request_id)
        )
        return status


async def _wait_done(port: int, request_id: str, timeout_s: float = 60) -> pb.ErasureStatus:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        status = await _status(port, request_id)
        if status.state == pb.ERASURE_STATE_DONE or loop.time() > deadline:
            return status
        await asyncio.sleep(0.2)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[PrivacySettings, StandIns, EventPublisher]]:
    tag = f"tests-privacy-{uuid.uuid4().hex[:8]}"
    settings = PrivacySettings(
        grpc_port=0,
        consumer_group=tag,
        signing_key_file=tmp_path / "key.pem",
        resend_interval_s=1.0,
        sweep_interval_s=0.2,
        keys_erasure_group=f"{tag}-keys",
    )
    await start_group_at_end(settings.kafka, tag, REQUESTS_TOPIC, ACKS_TOPIC)
    await start_group_at_end(settings.kafka, settings.keys_erasure_group, ORDERS_TOPIC)
    publisher = EventPublisher.create(settings.kafka, source="/tests/privacy")
    await publisher.start()
    stand_ins = StandIns(settings.kafka, tag, publisher)
    yield settings, stand_ins, publisher
    await stand_ins.stop()
    await publisher.stop()


async def _device(publisher: EventPublisher) -> str:
    device_id = f"dev-{uuid.uuid4()}"
    await publisher.publish(
        REGISTRY,
        DeviceRegistered(device_id=device_id, owner_account_id=f"acc-{uuid.uuid4()}"),
        key=device_id,
    )
    return device_id


async def test_an_erasure_ends_with_one_verifiable_certificate_and_a_late_participant_is_re_sent(
    world: tuple[PrivacySettings, StandIns, EventPublisher],
) -> None:
    settings, stand_ins, publisher = world
    device_id = await _device(publisher)
    app, stopping, task = await _start(settings)
    try:
        await stand_ins.start(*[p for p in PARTICIPANT_STORES if p != "media"])
        request_id = str(uuid.uuid4())
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
            stub = pb_grpc.PrivacyServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await stub.RequestErasure(
                    ErasureRequested(
                        request_id=str(uuid.uuid4()),
                        subject_kind=SubjectKind.SUBJECT_KIND_DEVICE,
                        subject_id="dev-nobody",
                    )
                )
            assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
            first = await stub.RequestErasure(
                ErasureRequested(
                    request_id=request_id,
                    subject_kind=SubjectKind.SUBJECT_KIND_DEVICE,
                    subject_id=device_id,
                    requested_by="admin-1",
                )
            )
            assert first.state == pb.ERASURE_STATE_IN_PROGRESS
            keys = parse_jwks(
                (await stub.GetCertificateKeys(pb.GetCertificateKeysRequest())).jwks_json
            )
        # media was down when the order went out: it is missing, and re-sent orders reach it
        await asyncio.sleep(1.5)
        assert (await _status(app.grpc_port, request_id)).pending == ["media"]
        await stand_ins.start("media")
        status = await _wait_done(app.grpc_port, request_id)
    finally:
        stopping.set()
        await asyncio.wait_for(task, 60)

    assert status.state == pb.ERASURE_STATE_DONE, status
    certificate = status.certificate
    assert verify_certificate(certificate, keys)
    assert {a.participant for a in certificate.acknowledgements} == {*PARTICIPANT_STORES, "privacy"}
    assert device_id not in certificate.signed_json
    assert [list(o.device_ids) for o in stand_ins.orders["media"]][-1] == [device_id]
    assert max(o.attempt for o in stand_ins.orders["media"]) >= 2
    # the order and the request are tombstoned
    orders = [
        r for r in await read_all(settings.kafka, ORDERS_TOPIC) if r.key == request_id.encode()
    ]
    assert orders and orders[-1].value is None
    # the ledger keeps no subject id once done
    cassandra = CassandraStore(connect(settings.cassandra, keyspace=settings.cassandra.keyspace))
    try:
        rows = await cassandra.execute(
            "SELECT erasure_order, subject_hash, certificate FROM privacy_erasures "
            "WHERE request_id = ?",
            (request_id,),
        )
        pending = await cassandra.execute(
            "SELECT request_id FROM privacy_pending_erasures WHERE shard = 0"
        )
    finally:
        cassandra.close()
    assert rows[0].erasure_order is None and device_id.encode() not in rows[0].certificate
    assert request_id not in {r.request_id for r in pending}


async def test_the_privacy_service_destroys_the_erased_devices_data_key_and_certifies_it(
    world: tuple[PrivacySettings, StandIns, EventPublisher],
) -> None:
    settings, stand_ins, publisher = world
    device_id, other = await _device(publisher), await _device(publisher)
    cassandra = CassandraStore(connect(settings.cassandra, keyspace=settings.cassandra.keyspace))
    try:
        store = CassandraDataKeyStore(cassandra)
        keys = await DataKeys(store).for_sealing([device_id, other])  # as ingest does
        app, stopping, task = await _start(settings)
        try:
            # every participant but the key shredder is a stand-in: the real one answers
            await stand_ins.start(*[p for p in PARTICIPANT_STORES if p != "privacy-keys"])
            request_id = str(uuid.uuid4())
            async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
                await pb_grpc.PrivacyServiceStub(channel).RequestErasure(
                    ErasureRequested(
                        request_id=request_id,
                        subject_kind=SubjectKind.SUBJECT_KIND_DEVICE,
                        subject_id=device_id,
                        requested_by="admin-1",
                    )
                )
            status = await _wait_done(app.grpc_port, request_id)
        finally:
            stopping.set()
            await asyncio.wait_for(task, 60)
        assert status.state == pb.ERASURE_STATE_DONE, status
        # the acknowledgements the certificate is made of (read from Kafka: on the shared local
        # stack another privacy instance, sharing the ledger, may sign the certificate first).
        # An order re-sent before the first acknowledgement was recorded is answered again: the
        # first answer destroyed the key, a repeat finds nothing left to destroy
        shredded, *repeats = [
            store
            for record in await read_all(settings.kafka, ACKS_TOPIC)
            if record.key == request_id.encode() and record.value is not None
            for ack in [ErasureAcknowledged.FromString(record.value)]
            if ack.participant == "privacy-keys"
            for store in ack.stores
        ]
        assert shredded.store == "cassandra:subject_data_keys"
        assert (shredded.mechanism, shredded.deleted) == ("crypto-shred", 1)
        assert all(
            (r.store, r.mechanism, r.deleted) == (shredded.store, "crypto-shred", 0)
            for r in repeats
        ), repeats
        assert await store.get(device_id) is None
        assert await store.is_destroyed(keys[device_id].key_id)
        assert await store.get(other) == keys[other]  # nobody else's
        with pytest.raises(SubjectShredded):
            await DataKeys(store).for_sealing([device_id])
    finally:
        cassandra.close()


async def test_killed_mid_erasure_the_service_resumes_from_its_ledger_with_one_certificate(
    world: tuple[PrivacySettings, StandIns, EventPublisher],
) -> None:
    settings, stand_ins, publisher = world
    device_id = await _device(publisher)
    request_id = str(uuid.uuid4())
    app, stopping, task = await _start(settings)
    # an operator's request by event; no participant runs yet
    await publisher.publish(
        REQUESTS_TOPIC,
        ErasureRequested(
            request_id=request_id,
            subject_kind=SubjectKind.SUBJECT_KIND_DEVICE,
            subject_id=device_id,
            requested_by="operator:tests",
        ),
        key=request_id,
    )
    for _ in range(100):
        with contextlib.suppress(grpc.aio.AioRpcError):
            if (await _status(app.grpc_port, request_id)).state == pb.ERASURE_STATE_IN_PROGRESS:
                break
        await asyncio.sleep(0.1)
    task.cancel()  # killed, not drained
    with contextlib.suppress(BaseException):
        await task
    app.cassandra.close()

    await stand_ins.start(*PARTICIPANT_STORES)
    app, stopping, task = await _start(settings)
    try:
        status = await _wait_done(app.grpc_port, request_id)
    finally:
        stopping.set()
        await asyncio.wait_for(task, 60)
    assert status.state == pb.ERASURE_STATE_DONE
    acks = [
        r
        for r in await read_all(settings.kafka, ACKS_TOPIC)
        if r.key == request_id.encode() and r.value is not None
    ]
    assert acks  # the participants answered the re-sent order
    assert status.certificate.request_id == request_id
    assert status.requested_by == "operator:tests"


async def test_the_running_service_appends_roll_markers_to_every_partition_of_compacted_topics(
    world: tuple[PrivacySettings, StandIns, EventPublisher],
) -> None:
    """What keeps an erasure's compaction bound on a quiet partition (trackstream_kafka.
    compaction): once the service runs, every partition of a compacted topic gets a
    tombstone of the roll key."""
    settings, _, _ = world
    topic = ORDERS_TOPIC  # compacted, like every topic the markers go to
    before = await end_offsets(settings.kafka, topic)
    _, stopping, task = await _start(settings)
    try:

        async def marked() -> set[int]:
            after = await end_offsets(settings.kafka, topic)
            places = [
                (tp.partition, offset)
                for tp, start in before.items()
                for offset in range(start, after[tp])
            ]
            return {
                r.partition
                for r in await records_at(settings.kafka, topic, places)
                if r.key == ROLL_KEY.encode() and r.value is None
            }

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while (found := await marked()) != {tp.partition for tp in before}:
            assert loop.time() < deadline, f"markers only in partitions {sorted(found)}"
            await asyncio.sleep(0.5)
    finally:
        stopping.set()
        await asyncio.wait_for(task, 60)
