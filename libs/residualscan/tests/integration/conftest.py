"""The scanner against the real local stack. Each test plants a fresh subject's identifiers in
a fresh topic, keyspace or bucket, and removes them again.

S3: a new bucket on SeaweedFS needs free volume slots (one collection per bucket; the local
store allows 16 volumes). When the shared store has fewer than 8 left, the S3 tests run a private
SeaweedFS, started with the same command as the local stack's (deploy/local/stack.py) on free
ports, so they test the same server either way and never fail for want of space.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cassandra.cluster import Session
from minio import Minio
from minio.versioningconfig import VersioningConfig

from trackstream_cassandra import CassandraSettings, connect
from trackstream_kafka.settings import KafkaSettings
from trackstream_s3 import S3Settings, make_client

ROOT = Path(__file__).resolve().parents[4]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_settings() -> KafkaSettings:
    return KafkaSettings()


@pytest.fixture(scope="session")
def cassandra_settings() -> CassandraSettings:
    return CassandraSettings()


#: free SeaweedFS volume slots the shared store must have before a test bucket goes there
_SLOTS_TO_SHARE = 8


def _free_volume_slots(master_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{master_port}/dir/status", timeout=5) as r:
            return int(json.load(r)["Topology"]["Free"])
    except (OSError, KeyError, ValueError):
        return 0


def _port_pair() -> int:
    """A free port whose +10000 (SeaweedFS's gRPC port for it) is free too."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as grpc_probe:
            try:
                grpc_probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a private SeaweedFS")


@pytest.fixture(scope="session")
def s3_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Settings]:
    shared = S3Settings()
    # a new collection grows by up to 7 volumes: leave the shared store room for the services
    if _free_volume_slots(int(os.environ.get("S3_MASTER_PORT", "9333"))) >= _SLOTS_TO_SHARE:
        yield shared
        return
    weed = Path(sys.executable).parent / "weed"
    data = tmp_path_factory.mktemp("seaweedfs")
    s3_port = _port_pair()
    command = [
        str(weed if weed.exists() else shutil.which("weed")),
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={s3_port}",
        f"-master.port={_port_pair()}",
        f"-volume.port={_port_pair()}",
        f"-filer.port={_port_pair()}",
        f"-s3.config={ROOT / 'deploy' / 'local' / 's3' / 's3.json'}",
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=16",
        "-s3.autoCreateBucket=false",
    ]
    with (data / "out.log").open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=data)
    try:
        deadline = time.monotonic() + 60
        while True:  # ready when the S3 port answers (an anonymous request gets 403)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{s3_port}/", timeout=2)
            except urllib.error.HTTPError:
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"private SeaweedFS did not start: {(data / 'out.log').read_text()[-2000:]}"
                    )
                time.sleep(0.2)  # polling a port with a deadline, not a sync
        yield shared.model_copy(update={"endpoint": f"127.0.0.1:{s3_port}"})
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
async def topic(kafka_settings: KafkaSettings) -> AsyncIterator[str]:
    name = f"test.residualscan{uuid.uuid4().hex[:10]}.v1"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


@pytest.fixture
def keyspace(cassandra_settings: CassandraSettings) -> Iterator[tuple[Session, str]]:
    session = connect(cassandra_settings)
    name = f"residual_scan_test_{uuid.uuid4().hex[:10]}"
    session.execute(
        f"CREATE KEYSPACE {name} WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    try:
        session.execute(f"CREATE TYPE {name}.contact (email text, phone text)")
        session.execute(
            f"CREATE TABLE {name}.device_days (device_id text, day date, seq int, owner uuid, "
            "identifier_hmac blob, tags list<text>, attributes map<text, text>, "
            "shared_with set<uuid>, contact frozen<contact>, label frozen<tuple<text, bigint>>, "
            "odometer double, PRIMARY KEY ((device_id, day), seq))"
        )
        session.execute(
            f"CREATE TABLE {name}.accounts_by_email (email text PRIMARY KEY, account_id uuid)"
        )
        yield session, name
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {name}")
        session.cluster.shutdown()


@pytest.fixture
def bucket(s3_settings: S3Settings) -> Iterator[tuple[Minio, str]]:
    client = make_client(s3_settings)
    name = f"residual-scan-test-{uuid.uuid4().hex[:10]}"
    client.make_bucket(name)
    client.set_bucket_versioning(name, VersioningConfig("Enabled"))
    try:
        yield client, name
    finally:
        for obj in client.list_objects(name, recursive=True, include_version=True):
            client.remove_object(name, obj.object_name, version_id=obj.version_id)
        client.remove_bucket(name)
