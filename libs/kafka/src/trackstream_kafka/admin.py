"""Creating the catalog's topics: idempotent, and existing topics are brought to the declared
configs (retention, compaction) without touching their data."""

from __future__ import annotations

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
