"""Fixtures for tests against the real local stack (`make up` starts it; `make test` does too).

These tests are never skipped: if a server does not answer, they fail and say how to start it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.helpers import MakeTopic
from trackstream_cassandra import CassandraSettings, CassandraStore, connect
from trackstream_events.catalog import CleanupPolicy, ErasureClass, PersonalData, Topic
from trackstream_kafka.admin import ensure_topics
from trackstream_kafka.settings import KafkaSettings
from trackstream_s3 import S3Settings

NOT_RUNNING = "the local stack is not answering; start it with `make up` (see README.md)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_settings() -> KafkaSettings:
    return KafkaSettings(delivery_timeout_ms=90_000)


@pytest.fixture(scope="session")
def cassandra_settings() -> CassandraSettings:
    return CassandraSettings()


@pytest.fixture(scope="session")
def s3_settings() -> S3Settings:
    return S3Settings()


@pytest.fixture
async def make_topic(kafka_settings: KafkaSettings) -> AsyncIterator[MakeTopic]:
    """Creates uniquely named topics (with their .dlq sibling) and deletes them afterwards."""
    created: list[str] = []

    async def make(partitions: int = 1) -> str:
        topic = Topic(
            name=f"test.t{uuid.uuid4().hex[:12]}.v1",
            owner="tests",
            key="device_id",
            value_types=(),
            partitions=partitions,
            cleanup_policy=CleanupPolicy.DELETE,
            retention_ms=3_600_000,
            personal_data=PersonalData.NONE,
            erasure=ErasureClass.RETENTION,
            description="test topic",
        )
        try:
            await asyncio.wait_for(ensure_topics(kafka_settings, (topic, topic.dlq)), 60)
        except Exception as err:
            pytest.fail(f"{NOT_RUNNING}: {err!r}")
        created.extend([topic.name, topic.dlq.name])
        return topic.name

    yield make
    if created:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
        await admin.start()
        try:
            await admin.delete_topics(created)
        finally:
            await admin.close()


@pytest.fixture(scope="session")
def cassandra_store(cassandra_settings: CassandraSettings) -> Iterator[CassandraStore]:
    try:
        store = CassandraStore(connect(cassandra_settings))
    except Exception as err:
        pytest.fail(f"{NOT_RUNNING}: {err!r}")
    yield store
    store.close()
