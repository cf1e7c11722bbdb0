"""Exports on the real stack: identity runs in this process (accounts and devices created through
its handlers, the registry published on Kafka), history's, alarm's and media's gRPC APIs serve
their real stores (positions written through history's store, an alarm through alarm's, a
picture into the media bucket and catalogue), notification runs whole (subscriptions created
over its gRPC API, each with a webhook secret). Two accounts are seeded; one is exported through
the privacy service's gRPC API, the archive is downloaded through its presigned link, checked
against its manifest, searched for every id of the other account (none) and for the webhook
secret (absent). Then the archive expires in a sweep, and an erasure of the account deletes its
export. The export throughput is printed (``-s``)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import json
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from alarm.adapters.grpc_api import AlarmApi
from alarm.adapters.grpc_api import serve_grpc as serve_alarm
from alarm.adapters.store import AlarmStore
from alarm.bootstrap import Directory as AlarmDirectory
from alarm.handlers import Definitions
from history.adapters.grpc_api import serve_grpc as serve_history
from history.adapters.store import PositionStore
from history.domain.model import TrackPoint
from identity.bootstrap import IdentityApp
from identity.bootstrap import bootstrap as bootstrap_identity
from identity.config import IdentitySettings
from media.adapters.grpc_api import serve_grpc as serve_media
from media.bootstrap import bootstrap as bootstrap_media
from media.config import MediaSettings
from media.domain.model import MediaKind, MediaRecord, Source, media_id_of
from notification.bootstrap import bootstrap as bootstrap_notification
from notification.config import NotificationSettings
from privacy.adapters.archive_bucket import ArchiveBucket, archive_key
from privacy.adapters.export_store import ExportStore
from privacy.bootstrap import EXPORTS_BUCKET, PrivacyApp, bootstrap
from privacy.config import PrivacySettings
from privacy.domain.archive import MANIFEST, verify_archive
from privacy.export.exporter import EXPIRED, Exporter
from privacy.handlers import ACKS_TOPIC, ORDERS_TOPIC, REQUESTS_TOPIC
from tests.integration.helpers import read_all, start_group_at_end
from trackstream.alarm.v1.alarm_pb2 import AlarmRaised, AlarmType
from trackstream.identity.v1 import accounts_pb2 as apb
from trackstream.notification.v1 import notification_service_pb2 as npb
from trackstream.notification.v1 import notification_service_pb2_grpc as npb_grpc
from trackstream.privacy.v1 import privacy_service_pb2 as pb
from trackstream.privacy.v1 import privacy_service_pb2_grpc as pb_grpc
from trackstream.privacy.v1.erasure_pb2 import ErasureAcknowledged, ErasureOrdered
from trackstream.tracking.v1.fix_pb2 import Fix
from trackstream_cassandra import CassandraSettings, CassandraStore, connect
from trackstream_events.catalog import bucket
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka import EventPublisher, KafkaSettings
from trackstream_s3 import S3Settings, ensure_buckets, make_client
from trackstream_testing import FakePublisher

IDENTIFIER_KEY = "privacy-export-tests-identifier-key-0123456789"
PASSWORD = "correct horse battery staple"
#: positions of the exported account's first device (the throughput figure)
POSITIONS = 20_000
T0 = datetime(2025, 11, 3, 6, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[4]


@dataclass
class Seeded:
    """What one account holds (every id, to search for in the other's archive)."""

    account_id: str
    email: str
    device_ids: list[str]
    identifiers: list[str]
    alarm_ids: list[str] = field(default_factory=list)
    media_ids: list[str] = field(default_factory=list)
    picture: bytes = b""
    subscription_ids: list[str] = field(default_factory=list)
    webhook_secret: str = ""
    positions: int = 0

    def needles(self) -> list[str]:
        return [
            self.account_id,
            self.email,
            *self.device_ids,
            *self.identifiers,
            *self.alarm_ids,
            *self.media_ids,
            *self.subscription_ids,
            self.webhook_secret,
        ]


@dataclass
class World:
    privacy: PrivacyApp
    a: Seeded
    b: Seeded
    settings: PrivacySettings


def _free_port_pair() -> int:
    """A free port whose +10000 sibling (SeaweedFS's gRPC port) is free too."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as sibling:
            try:
                sibling.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


@contextlib.contextmanager
def exports_store(folder: Path) -> Iterator[S3Settings]:
    """A SeaweedFS of this test's own for the exports bucket (same binary, flags and keys as the
    local stack's). The stack's store was started with ``-volume.max=16`` and the media
    collection holds all 16 volumes, so a write to a second bucket (collection) fails there
    with "no free volumes left" until the stack is restarted with more (see the README); and
    the sweep test deletes every archive of the bucket older than the link's validity, which
    must not touch anyone else's."""
    ports = [_free_port_pair() for _ in range(4)]
    s3_port, master_port, volume_port, filer_port = ports
    (folder / "data").mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "weed"),
            "mini",
            f"-dir={folder / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={s3_port}",
            f"-master.port={master_port}",
            f"-volume.port={volume_port}",
            f"-filer.port={filer_port}",
            f"-s3.config={REPO / 'deploy' / 'local' / 's3' / 's3.json'}",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=8",
            "-s3.autoCreateBucket=false",
        ],
        stdout=(folder / "out.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        settings = S3Settings(endpoint=f"127.0.0.1:{s3_port}")
        client = make_client(settings)
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (folder / "out.log").read_text()[-2000:]
            try:
                ensure_buckets(client, settings, (bucket(EXPORTS_BUCKET),))
                client.put_object(EXPORTS_BUCKET, "probe", io.BytesIO(b"probe"), 5)
                client.remove_object(EXPORTS_BUCKET, "probe")
                break
            except Exception:
                assert time.monotonic() < deadline, "the exports store did not start in 90 s"
                time.sleep(0.5)
        yield settings
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def _started(run: Awaitable[None], ready: asyncio.Event, what: str) -> asyncio.Task[None]:
    task = asyncio.ensure_future(run)
    waiter = asyncio.ensure_future(ready.wait())
    await asyncio.wait({task, waiter}, timeout=90, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    assert ready.is_set(), f"{what} did not become ready in 90 s"
    return task


async def _seed(
    identity: IdentityApp,
    platform_id: str,
    label: str,
    *,
    positions: PositionStore,
    alarms: AlarmStore,
    media: Any,
    notification: npb_grpc.NotificationServiceStub,
    points: int,
) -> Seeded:
    email = f"export-{label}-{uuid.uuid4().hex[:10]}@example.org"
    account = await identity.identity.create_account(
        parent_account_id=platform_id,
        kind=apb.ACCOUNT_KIND_ENTERPRISE,
        role=apb.ACCOUNT_ROLE_ADMIN,
        email=email,
        phone="",
        display_name=f"Export {label}",
        password=PASSWORD,
    )
    seeded = Seeded(account.account_id, email, [], [])
    for n in range(2):
        identifier = "86" + str(uuid.uuid4().int)[:13]
        device = await identity.identity.register_device(
            owner_account_id=account.account_id,
            identifier=identifier,
            protocol="gt06",
            model="GT06N",
            name=f"{label} car {n}",
            device_timezone="UTC",
            expiry_time=None,
        )
        seeded.device_ids.append(device.device_id)
        seeded.identifiers.append(identifier)
    first = seeded.device_ids[0]
    # positions: many for the first device (spread over two 30-day windows), one for the second
    batch: list[TrackPoint] = []
    for i in range(points):
        batch.append(
            TrackPoint(
                device_id=first,
                fix_time=T0 + timedelta(seconds=10 * i) + timedelta(days=25 * (i % 2)),
                latitude=48.1 + i / 1e6,
                longitude=11.5 + i / 1e6,
                speed_kmh=float(i % 80),
                message_serial=i % 65536,
                received_time=T0,
            )
        )
        if len(batch) == 5000:
            await positions.write(batch)
            batch = []
    batch.append(
        TrackPoint(
            device_id=seeded.device_ids[1],
            fix_time=T0,
            latitude=48.0,
            longitude=11.0,
            speed_kmh=0.0,
        )
    )
    await positions.write(batch)
    seeded.positions = points + 1
    # an alarm of the first device
    alarm = AlarmRaised(
        alarm_id=str(uuid.uuid4()),
        device_id=first,
        owner_account_id=account.account_id,
        type=AlarmType.ALARM_TYPE_SOS,
        alarm_time=to_timestamp(T0 + timedelta(hours=1)),
        fix=Fix(latitude=48.1, longitude=11.5, fix_time=to_timestamp(T0)),
    )
    await alarms.write([alarm])
    seeded.alarm_ids.append(alarm.alarm_id)
    # a picture of the first device, in the media bucket and catalogue
    seeded.picture = b"\xff\xd8\xff\xe0" + uuid.uuid4().bytes * 512 + b"\xff\xd9"
    key = f"{first}/2025/11/03/http-{uuid.uuid4().hex[:16]}.jpg"
    await media.store.put(key, seeded.picture, "image/jpeg")
    record = MediaRecord(
        media_id=media_id_of(media.store.bucket, key),
        device_id=first,
        captured_time=T0,
        media_type=MediaKind.IMAGE,
        content_type="image/jpeg",
        size_bytes=len(seeded.picture),
        sha256=hashlib.sha256(seeded.picture).hexdigest(),
        bucket=media.store.bucket,
        object_key=key,
        source=Source.JIMI_HTTP,
        account_id=account.account_id,
    )
    await media.catalogue.add(record, None)
    seeded.media_ids.append(record.media_id)
    # a subscription with a webhook secret
    seeded.webhook_secret = f"whsec-{uuid.uuid4().hex}"
    subscription = await notification.CreateSubscription(
        npb.CreateSubscriptionRequest(
            subscription=npb.Subscription(
                account_id=account.account_id,
                channels=[npb.CHANNEL_WEBHOOK, npb.CHANNEL_IN_APP],
                # an address literal (no DNS here) on the network the test's notification allows
                webhook_url=f"https://192.0.2.10/hooks/{label}",
                webhook_secret=seeded.webhook_secret,
                device_ids=[first],
            )
        )
    )
    seeded.subscription_ids.append(subscription.subscription_id)
    return seeded


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    exits = contextlib.AsyncExitStack()
    exports_s3 = exits.enter_context(exports_store(tmp_path / "exports-s3"))
    cassandra = CassandraStore(connect(CassandraSettings(), keyspace=CassandraSettings().keyspace))
    exits.callback(cassandra.close)
    stoppers: list[tuple[asyncio.Event, asyncio.Task[None]]] = []
    servers: list[grpc.aio.Server] = []
    try:
        identity = bootstrap_identity(
            IdentitySettings(
                grpc_port=0,
                signing_key_file=tmp_path / "identity-key.pem",
                identifier_key=IDENTIFIER_KEY,  # type: ignore[arg-type]
                password_time_cost=1,
                password_memory_kib=8192,
                password_parallelism=1,
            )
        )
        stop = asyncio.Event()
        stoppers.append((stop, await _started(identity.run(stop), identity.ready, "identity")))
        platform, _ = await identity.identity.bootstrap_platform(
            email=f"platform-{uuid.uuid4().hex[:8]}@example.org",
            password=PASSWORD,
            display_name="Platform",
        )
        position_store = PositionStore(cassandra, concurrency=64)
        history_server, history_port = await serve_history(position_store, "127.0.0.1", 0)
        servers.append(history_server)
        alarm_store = AlarmStore(cassandra)
        alarm_server, alarm_port = await serve_alarm(
            AlarmApi(
                definitions=Definitions(),
                directory=AlarmDirectory(),
                publisher=FakePublisher(),
                store=alarm_store,
                apply_fence=lambda *_: None,
                apply_rule=lambda *_: None,
            ),
            "127.0.0.1",
            0,
        )
        servers.append(alarm_server)
        media = bootstrap_media(
            MediaSettings(grpc_port=0, http_port=0, identifier_key=IDENTIFIER_KEY)  # type: ignore[arg-type]
        )
        exits.callback(media.cassandra.close)
        media_server, media_port = await serve_media(media.app, "127.0.0.1", 0)
        servers.append(media_server)
        group = f"notification-export-{uuid.uuid4().hex[:8]}"
        await start_group_at_end(
            KafkaSettings(), group, "alarm.alarms.v1", "tracking.command-results.v1"
        )
        notification = bootstrap_notification(
            NotificationSettings(
                grpc_port=0,
                consumer_group=group,
                geocoding_address="",
                webhook_allowed_networks="192.0.2.0/24",
            )
        )
        stop = asyncio.Event()
        stoppers.append(
            (stop, await _started(notification.run(stop), notification.ready, "notification"))
        )
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{notification.grpc_port}")
        exits.push_async_callback(channel.close)
        notify = npb_grpc.NotificationServiceStub(channel)
        seeding = time.perf_counter()
        seeds = {
            label: await _seed(
                identity,
                platform.account_id,
                label,
                positions=position_store,
                alarms=alarm_store,
                media=media.app,
                notification=notify,
                points=points,
            )
            for label, points in (("a", POSITIONS), ("b", 50))
        }
        print(f"\nseeded two accounts in {time.perf_counter() - seeding:.1f} s")
        tag = f"tests-export-{uuid.uuid4().hex[:8]}"
        settings = PrivacySettings(
            grpc_port=0,
            consumer_group=tag,
            signing_key_file=tmp_path / "privacy-key.pem",
            identity_address=f"127.0.0.1:{identity.grpc_port}",
            history_address=f"127.0.0.1:{history_port}",
            alarm_address=f"127.0.0.1:{alarm_port}",
            media_address=f"127.0.0.1:{media_port}",
            notification_address=f"127.0.0.1:{notification.grpc_port}",
            export_erasure_group=f"{tag}-exports",
            export_sweep_interval_s=3600,
            s3=exports_s3,
        )
        await start_group_at_end(settings.kafka, tag, REQUESTS_TOPIC, ACKS_TOPIC)
        await start_group_at_end(settings.kafka, f"{tag}-exports", ORDERS_TOPIC)
        privacy = bootstrap(settings)  # after the seeding: its registry view has the devices
        stop = asyncio.Event()
        stoppers.append((stop, await _started(privacy.run(stop), privacy.ready, "privacy")))
        yield World(privacy=privacy, a=seeds["a"], b=seeds["b"], settings=settings)
    finally:
        for stop, task in reversed(stoppers):
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 60)
        for server in servers:
            await server.stop(1)
        await exits.aclose()


async def _privacy(world: World) -> AsyncIterator[pb_grpc.PrivacyServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{world.privacy.grpc_port}") as channel:
        yield pb_grpc.PrivacyServiceStub(channel)


async def _until(
    check: Callable[[], Awaitable[pb.ExportStatus | None]], *, within: float = 300
) -> pb.ExportStatus | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        status = await check()
        if status is None or status.state != pb.EXPORT_STATE_RUNNING:
            return status
        assert loop.time() < deadline, "the export did not finish in time"
        await asyncio.sleep(0.2)


async def _export(world: World, account_id: str) -> tuple[str, pb.ExportStatus, float]:
    export_id = str(uuid.uuid4())
    async with grpc.aio.insecure_channel(f"127.0.0.1:{world.privacy.grpc_port}") as channel:
        stub = pb_grpc.PrivacyServiceStub(channel)
        started = time.perf_counter()
        first = await stub.RequestExport(
            pb.RequestExportRequest(
                export_id=export_id, account_id=account_id, requested_by=account_id
            )
        )
        assert first.state == pb.EXPORT_STATE_RUNNING  # answered at once, built in the back

        async def status() -> pb.ExportStatus:
            answer: pb.ExportStatus = await stub.GetExport(pb.GetExportRequest(export_id=export_id))
            return answer

        done = await _until(status)
        elapsed = time.perf_counter() - started
    assert done is not None
    return export_id, done, elapsed


async def test_an_export_holds_all_of_the_account_and_nothing_of_another(world: World) -> None:
    a, b = world.a, world.b
    export_id, status, elapsed = await _export(world, a.account_id)
    assert status.state == pb.EXPORT_STATE_READY, status.error
    print(
        f"\nexport of {a.positions} positions (+ profile, devices, alarm, picture, "
        f"subscription) in {elapsed:.2f} s: {a.positions / elapsed:,.0f} positions/s"
    )
    assert status.expires_at.ToDatetime(tzinfo=UTC) > datetime.now(UTC) + timedelta(minutes=50)
    assert f"/{EXPORTS_BUCKET}/{archive_key(export_id)}?" in status.download_url
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.get(status.download_url)
    assert response.status_code == 200
    data = response.content
    assert verify_archive(io.BytesIO(data)) == []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        # the status lists the same parts as the manifest (and the manifest itself)
        assert [(p.path, p.sha256) for p in status.parts][:-1] == [
            (p["path"], p["sha256"]) for p in manifest["parts"]
        ]
        assert status.parts[-1].path == MANIFEST
        profile = json.loads(archive.read("profile.json"))
        assert (profile["account_id"], profile["email"]) == (a.account_id, a.email)
        devices = json.loads(archive.read("devices.json"))
        assert sorted(d["device_id"] for d in devices) == sorted(a.device_ids)
        assert sorted(d["identifier"] for d in devices) == sorted(a.identifiers)
        rows = {
            device_id: list(
                csv.DictReader(io.StringIO(archive.read(f"positions/{device_id}.csv").decode()))
            )
            for device_id in a.device_ids
        }
        assert sum(len(r) for r in rows.values()) == a.positions
        fix_times = [r["fix_time"] for r in rows[a.device_ids[0]]]
        assert fix_times == sorted(fix_times)  # oldest first, across both windows
        alarms = json.loads(archive.read("alarms.json"))
        assert [x["alarm"]["alarm_id"] for x in alarms] == a.alarm_ids
        alarm_rows = csv.DictReader(io.StringIO(archive.read("alarms.csv").decode()))
        assert [r["alarm_id"] for r in alarm_rows] == a.alarm_ids
        catalogue = json.loads(archive.read("media.json"))
        assert [m["media_id"] for m in catalogue] == a.media_ids
        picture = archive.read(f"media/{a.device_ids[0]}/{a.media_ids[0]}.jpg")
        assert picture == a.picture
        subscriptions = json.loads(archive.read("subscriptions.json"))
        assert [s["subscription_id"] for s in subscriptions] == a.subscription_ids
        assert all("webhook_secret" not in s for s in subscriptions)
        every_byte = b"".join(archive.read(n) for n in archive.namelist())
    # nothing of the other account, nor any webhook secret
    found = [n for n in b.needles() if n.encode() in every_byte or n.encode() in data]
    assert found == []
    assert a.webhook_secret.encode() not in every_byte
    # the same id again is the same export; a bad id is refused
    async with grpc.aio.insecure_channel(f"127.0.0.1:{world.privacy.grpc_port}") as channel:
        stub = pb_grpc.PrivacyServiceStub(channel)
        again = await stub.RequestExport(
            pb.RequestExportRequest(export_id=export_id, account_id=a.account_id)
        )
        assert again.state == pb.EXPORT_STATE_READY
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.RequestExport(
                pb.RequestExportRequest(export_id=export_id, account_id=b.account_id)
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.RequestExport(
                pb.RequestExportRequest(export_id="not-a-uuid", account_id=a.account_id)
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await stub.GetExport(pb.GetExportRequest(export_id=str(uuid.uuid4())))
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        missing = await asyncio.wait_for(_request_unknown(stub), 60)
    assert missing is not None and missing.state == pb.EXPORT_STATE_FAILED
    assert missing.error == "no such account"

    # two hours later the sweep has deleted the archive, and the status says so
    later = datetime.now(UTC) + timedelta(hours=2)
    s3 = make_client(world.settings.s3)
    cassandra = CassandraStore(connect(CassandraSettings(), keyspace=CassandraSettings().keyspace))
    try:
        exporter = Exporter(
            store=ExportStore(cassandra, record_ttl=timedelta(days=7)),
            bucket=ArchiveBucket(s3, EXPORTS_BUCKET),
            data=world.privacy.collectors,
            owned_devices=lambda _: [],
            url_ttl=timedelta(seconds=world.settings.export_url_ttl_s),
            stale_after=timedelta(minutes=5),
            concurrency=1,
            clock=lambda: later,
        )
        await exporter.sweep()
        expired = await exporter.status(export_id)
    finally:
        cassandra.close()
    assert expired is not None and expired.state == pb.EXPORT_STATE_FAILED
    assert expired.error == EXPIRED and not expired.download_url
    async with httpx.AsyncClient(timeout=60) as http:
        assert (await http.get(status.download_url)).status_code == 404


async def _request_unknown(stub: pb_grpc.PrivacyServiceStub) -> pb.ExportStatus:
    """An export of an account that does not exist: it FAILS, with why."""
    export_id = str(uuid.uuid4())
    await stub.RequestExport(
        pb.RequestExportRequest(export_id=export_id, account_id=f"acc-{uuid.uuid4()}")
    )
    while True:
        status: pb.ExportStatus = await stub.GetExport(pb.GetExportRequest(export_id=export_id))
        if status.state != pb.EXPORT_STATE_RUNNING:
            return status
        await asyncio.sleep(0.1)


async def test_erasing_the_account_deletes_its_export(world: World) -> None:
    a = world.a
    export_id, status, _ = await _export(world, a.account_id)
    assert status.state == pb.EXPORT_STATE_READY, status.error
    request_id = str(uuid.uuid4())
    publisher = EventPublisher.create(world.settings.kafka, source="/tests/privacy")
    await publisher.start()
    try:
        # the order the privacy service sends for an erasure of the account
        await publisher.publish(
            ORDERS_TOPIC,
            ErasureOrdered(
                request_id=request_id,
                account_ids=[a.account_id],
                device_ids=a.device_ids,
                attempt=1,
            ),
            key=request_id,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        acks: list[ErasureAcknowledged] = []
        while not acks:
            assert loop.time() < deadline, "no acknowledgement from privacy-exports"
            await asyncio.sleep(0.5)
            for record in await read_all(world.settings.kafka, ACKS_TOPIC):
                if record.key == request_id.encode() and record.value is not None:
                    ack = ErasureAcknowledged.FromString(record.value)
                    if ack.participant == "privacy-exports":
                        acks.append(ack)
    finally:
        await publisher.publish_tombstones(ORDERS_TOPIC, [request_id])
        await publisher.stop()
    ack = next(x for x in acks if x.participant == "privacy-exports")
    by_store = {s.store: s for s in ack.stores}
    assert set(by_store) == {
        "cassandra:privacy_exports",
        "cassandra:privacy_running_exports",
        "cassandra:privacy_exports_by_subject",
        "s3:trackstream-exports",
    }
    assert by_store["s3:trackstream-exports"].deleted >= 1
    assert by_store["cassandra:privacy_exports"].deleted >= 1
    async with grpc.aio.insecure_channel(f"127.0.0.1:{world.privacy.grpc_port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await pb_grpc.PrivacyServiceStub(channel).GetExport(
                pb.GetExportRequest(export_id=export_id)
            )
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    async with httpx.AsyncClient(timeout=60) as http:
        assert (await http.get(status.download_url)).status_code == 404
    cassandra = CassandraStore(connect(CassandraSettings(), keyspace=CassandraSettings().keyspace))
    try:
        for subject in [a.account_id, *a.device_ids]:
            rows = await cassandra.execute(
                "SELECT export_id FROM privacy_exports_by_subject WHERE subject_id = ?",
                (subject,),
            )
            assert rows == []
    finally:
        cassandra.close()
