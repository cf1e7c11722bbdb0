"""Creating the catalog's topics: idempotent, and existing topics are brought to the declared
configs (retention, compaction) without touching their data."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from trackstream_events.catalog import Topic
from trackstream_kafka.settings import KafkaSettings


async def ensure_topics(settings: KafkaSettings, topics: tuple[Topic, ...]) -> list[str]:
    """Create missing topics and align configs; returns the names it created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id="provision")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name=t.name,
                        num_partitions=t.partitions,
                        replication_factor=settings.replication_factor,
                        topic_configs=t.configs(),
                    )
                    for t in missing
                ]
            )
            _raise_errors("creating", [(e[0], e[1]) for e in response.topic_errors], ok={36})
        present = [t for t in topics if t.name in existing]
        if present:
            responses = await admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, t.name, t.configs()) for t in present]
            )
            for response in responses:
                # resources: (error_code, error_message, resource_type, resource_name)
                _raise_errors("configuring", [(r[3], r[0]) for r in response.resources])
        return [t.name for t in missing]
    finally:
        await admin.close()


class TopicProvisioningError(Exception):
    pass


def _raise_errors(
    action: str, results: list[tuple[str, int]], ok: frozenset[int] | set[int] = frozenset()
) -> None:
    failed = [f"{name} (Kafka error {code})" for name, code in results if code and code not in ok]
    if failed:
        raise TopicProvisioningError(f"{action} topics failed: {', '.join(failed)}")


async def start_group_at_end(settings: KafkaSettings, group: str, *topics: str) -> None:
    """Commit ``group``'s offsets at the current end of ``topics``, so a consumer of that group
    skips what the topics already hold (a busy shared topic would take minutes to replay): for
    tests and benchmarks that run a service beside the shared local stack."""
    probe = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    await probe.start()
    try:
        metadata = await probe._client.fetch_all_metadata()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(metadata.partitions_for_topic(topic) or ())
        ]
        missing = set(topics) - {tp.topic for tp in partitions}
        if missing:
            raise LookupError(f"no such topics: {sorted(missing)} (run make provision)")
        offsets = dict(await probe.end_offsets(partitions))
    finally:
        await probe.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()
