"""Erasure of an account through the gateway, against the real stack: identity, history,
alarm, media and privacy in-process on the real Kafka, Cassandra and S3.

Two fresh enterprise accounts each get a device with positions, a share link, a command, an API
key, a geofence, a rule, an alarm and a dashcam picture (the isolation world's target). One
erases itself. Within 60 s no API answer contains it any more, its certificate verifies with the
published keys, and the other account is intact."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf.json_format import Parse

from privacy.domain.certificate import verify_certificate
from services.gateway.tests.integration.conftest import IDENTIFIER_KEY, Stack, eventually, login
from services.gateway.tests.integration.isolation_world import Party, Target, World, make_target
from services.gateway.tests.integration.live_helpers import publish_positions
from tests.integration.helpers import erasure_bounds_elapsing
from trackstream.identity.v1 import accounts_pb2 as apb
from trackstream.privacy.v1.erasure_pb2 import ErasureCertificate
from trackstream_auth import parse_jwks
from trackstream_cassandra import CassandraSettings, CassandraStore, connect
from trackstream_events import catalog
from trackstream_kafka import KafkaSettings
from trackstream_residual_scan import (
    Hit,
    ScanRequest,
    ScanResult,
    StoreSettings,
    Subject,
    parse_subject,
    run_scan,
)
from trackstream_residual_scan.config import ScanSettings

pytestmark = pytest.mark.asyncio(loop_scope="session")
LOGICAL_ERASURE_S = 60
#: what privacy tombstones itself once the certificate is out (not in any acknowledgement)
PRIVACY_TOPICS = ("privacy.erasure-requests.v1", "privacy.erasure-orders.v1")


def closure(target: Target, party: Party) -> Subject:
    """Every identifier of the subject: its ids, its device's IMEI, its e-mail."""
    return parse_subject(
        {
            "ids": [target.account_id, target.device_id, target.key_id],
            "device_identifiers": [target.imei],
            "emails": [party.email],
        }
    )


#: the scaled bounds (segments of 1 s, retention 2 s, the local broker's retention check every
#: 10 s and its cleaner) elapse in well under this; scans of the emptied topics are quick
BOUNDS_ELAPSED_S = 120.0

#: ``ERASURE_SCAN=quick`` leaves out the two biggest topics and tables (every position and its
#: address) for a run on a long-lived local stack, where they hold millions of records; the
#: default, and CI, scan everything
QUICK = os.environ.get("ERASURE_SCAN") == "quick"
BIG_TOPICS = r"^(?!tracking\.positions\.v1$|geocoding\.addresses\.v1$)"


BIG_TABLES = {"positions_by_device_day", "position_addresses_by_device_day"}


async def _small_tables() -> tuple[str, ...]:
    settings = CassandraSettings()
    store = CassandraStore(connect(settings))
    try:
        rows = await store.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?",
            (settings.keyspace,),
        )
    finally:
        store.close()
    return tuple(sorted(r.table_name for r in rows if r.table_name not in BIG_TABLES))


async def scan(subject: Subject, **only: Any) -> ScanResult:
    if QUICK and "stores" not in only:
        only = {"topic_pattern": BIG_TOPICS, "tables": await _small_tables(), **only}
    settings = StoreSettings.from_env()
    settings = StoreSettings(
        ScanSettings(identifier_key=IDENTIFIER_KEY),  # type: ignore[arg-type]
        settings.kafka,
        settings.cassandra,
        settings.s3,
    )
    result = await asyncio.to_thread(run_scan, ScanRequest(subject, **only), settings)
    assert not result.errors, result.errors
    return result


def by_store(hits: list[Hit]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for hit in hits:
        counts[hit.store] = counts.get(hit.store, 0) + 1
    return counts


async def superseded(kafka: KafkaSettings, hit: Hit) -> bool:
    """Compaction removes the hit's record within the topic's bound: it is a tombstone (its key
    goes after delete.retention.ms), or a later record has its key (compaction keeps only the
    latest value of a key; that one carries no identifier, or it would be a hit itself)."""
    where = dict(hit.location)
    topic = str(where["topic"])
    partition, offset = int(str(where["partition"])), int(str(where["offset"]))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        consumer.seek(tp, offset)
        key: bytes | None = None
        while await consumer.position(tp) < end:
            for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                if record.offset == offset:
                    if record.value is None:
                        return True
                    key = record.key
                elif key is not None and record.key == key:
                    return True
        return False
    finally:
        await consumer.stop()


def sealed_topic(name: str) -> bool:
    try:
        return catalog.topic(name).sealed
    except KeyError:
        return False


async def unexplained_kafka_hits(kafka: KafkaSettings, hits: list[Hit]) -> list[Hit]:
    """Kafka hits that neither expire by retention (a delete-policy topic, its bound in the
    certificate) nor go with compaction (a compacted topic's tombstone, or a value its key has
    since replaced)."""
    left = []
    for hit in hits:
        name = str(dict(hit.location)["topic"])
        try:
            policy = catalog.topic(name).cleanup_policy
        except KeyError:
            left.append(hit)  # not a platform topic: nothing bounds it
            continue
        if policy is catalog.CleanupPolicy.DELETE:
            continue
        if not await superseded(kafka, hit):
            left.append(hit)
    return left


@dataclass
class Pair:
    world: World
    erased: Target
    kept: Target
    #: the distributor above the erased account (an admin that saw all of it)
    above: Party


@pytest_asyncio.fixture(loop_scope="session")
async def pair(stack: Stack) -> AsyncIterator[Pair]:
    ids = {
        "D": await stack.create_account(stack.platform_id, apb.ACCOUNT_KIND_DISTRIBUTOR, label="D")
    }
    ids["E"] = await stack.create_account(ids["D"][0], apb.ACCOUNT_KIND_ENTERPRISE, label="E")
    ids["K"] = await stack.create_account(stack.platform_id, apb.ACCOUNT_KIND_ENTERPRISE, label="K")

    async def known() -> bool:
        return all(i in stack.gateway.context.directory.accounts for i, _ in ids.values())

    await eventually(known)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        parties = {
            name: Party(account_id, email, await login(client, email))
            for name, (account_id, email) in ids.items()
        }
        assert stack.notification is not None
        world = World(
            parties,
            stack.alarm.store,
            notifications=stack.notification.store,
            admin_of={"E": "E", "K": "K"},
            media=stack.media.app if stack.media else None,
        )
        erased, kept = await asyncio.gather(
            make_target(client, world, "E", "K"), make_target(client, world, "K", "E")
        )
        await publish_positions([erased.device_id, kept.device_id])
        for target in (erased, kept):
            owner = world[target.owner]

            async def stored(t: Target = target, p: Party = owner) -> bool:
                response = await client.get(
                    f"/v1/devices/{t.device_id}/last-position", headers=p.headers
                )
                return response.status_code == 200

            await eventually(stored, within=30)
    yield Pair(world, erased, kept, parties["D"])


async def _reads(client: httpx.AsyncClient, target: Target, party: Party) -> dict[str, int]:
    """What ``party`` reads of the target (status codes)."""
    device = f"/v1/devices/{target.device_id}"
    answers = {
        "device": await client.get(device, headers=party.headers),
        "last_position": await client.get(f"{device}/last-position", headers=party.headers),
        "alarms": await client.get(f"{device}/alarms", headers=party.headers),
        "media": await client.get(f"{device}/media", headers=party.headers),
        "account": await client.get(f"/v1/accounts/{target.account_id}", headers=party.headers),
        "shared_link": await client.get(f"/v1/shared/{target.link_token}/position"),
        "geofence": await client.get(f"/v1/geofences/{target.geofence_id}", headers=party.headers),
    }
    return {name: response.status_code for name, response in answers.items()}


async def test_an_account_erases_itself_and_within_60_s_nothing_answers_with_it(
    stack: Stack, pair: Pair
) -> None:
    erased, kept = pair.erased, pair.kept
    subject, other = pair.world["E"], pair.world["K"]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        before = await _reads(client, erased, subject)
        assert set(before.values()) == {200}, before
        # positive control: the scanner finds the subject in every kind of store, and the
        # other account's identifiers nowhere it should not be
        planted = await scan(closure(erased, subject))
        assert {"kafka", "cassandra", "s3"} <= set(by_store(planted.hits)), by_store(planted.hits)
        # another account does not erase it (nor learn that the account exists)
        refused = await client.post(
            f"/v1/accounts/{erased.account_id}/erasure", headers=other.headers
        )
        assert refused.status_code == 404, refused.text
        # the device is shared with the other account: it sees it, but cannot erase it
        refused = await client.post(
            f"/v1/devices/{erased.device_id}/erasure", headers=other.headers
        )
        assert refused.status_code == 403, refused.text

        started = time.monotonic()
        asked = await client.post(
            f"/v1/accounts/{erased.account_id}/erasure",
            headers=subject.headers,
            json={"request_id": str(uuid.uuid4()), "reason": "leaving"},
        )
        assert asked.status_code == 202, asked.text
        status_url = asked.headers["Location"]
        status: dict[str, object] = {}

        async def done() -> bool:
            response = await client.get(status_url)
            assert response.status_code == 200, response.text
            status.update(response.json())
            return status["state"] == "done"

        try:
            await eventually(done, within=LOGICAL_ERASURE_S)
        except AssertionError:
            raise AssertionError(f"not certified within {LOGICAL_ERASURE_S} s: {status}") from None
        seconds = time.monotonic() - started
        print(f"account erasure certified after {seconds:.1f} s")

        # logical erasure: the account's credentials stop, the admin above sees nothing
        assert (await client.get("/v1/accounts/me", headers=subject.headers)).status_code == 401
        after = await _reads(client, erased, pair.above)
        assert set(after.values()) == {404}, after
        relogin = await client.post(
            "/v1/auth/token",
            json={"email": subject.email, "password": "correct horse battery staple"},
        )
        assert relogin.status_code == 401
        # the other account is intact
        assert set((await _reads(client, kept, other)).values()) == {200}

        # the certificate verifies with the published keys and names nobody
        keys = parse_jwks((await client.get("/v1/privacy/certificate-keys")).text)
        body = status["certificate"]
        assert isinstance(body, dict)
        certificate = ErasureCertificate(
            key_id=body["key_id"], signature=body["signature"], signed_json=body["signed_json"]
        )
        Parse(body["signed_json"], certificate)
        assert verify_certificate(certificate, keys)
        signed = body["signed_json"]
        for identifier in (erased.account_id, erased.device_id, subject.email):
            assert identifier not in signed
        content = body["content"]
        assert {a["participant"] for a in content["acknowledgements"]} >= {
            "identity",
            "history",
            "alarm",
            "media",
            "privacy",
        }
        assert content["device_count"] == 1 and content["account_count"] == 1
        assert seconds < LOGICAL_ERASURE_S

    # the independent scanner, every topic, table and object version: nothing in Cassandra or
    # S3; in Kafka only records that expire by retention or lie under a tombstone
    left = await scan(closure(erased, subject))
    counts = by_store(left.hits)
    print(f"residual hits after erasure by store: {counts} (before: {by_store(planted.hits)})")
    assert "cassandra" not in counts, [h.as_json() for h in left.hits if h.store == "cassandra"]
    assert "s3" not in counts, [h.as_json() for h in left.hits if h.store == "s3"]
    kafka_hits = [h for h in left.hits if h.store == "kafka"]
    unexplained = await unexplained_kafka_hits(KafkaSettings(), kafka_hits)
    assert unexplained == [], [h.as_json() for h in unexplained]
    # on sealed topics only the pseudonymous ids stay readable (record keys, subject fields):
    # every personal field went with the subject's destroyed data key
    readable = [
        h.as_json()
        for h in kafka_hits
        if sealed_topic(str(dict(h.location)["topic"])) and h.kind != "id"
    ]
    assert readable == [], readable
    # the other account is still there, whole
    kept_left = await scan(closure(kept, other), stores=("cassandra", "s3"))
    assert {"cassandra", "s3"} <= set(by_store(kept_left.hits))

    # then the bounds elapse (the broker's timings scaled from hours to seconds, the roll
    # markers appended): retention and compaction remove the rest, and the scanner finds
    # nothing of the subject in any topic either; compaction keeps the other account's records
    platform_topics = [t for topic in catalog.TOPICS for t in (topic, topic.dlq)]
    async with erasure_bounds_elapsing(KafkaSettings(), platform_topics) as roll:
        remaining: list[Hit] = []

        async def gone_from_kafka() -> bool:
            await roll()
            remaining[:] = (await scan(closure(erased, subject), stores=("kafka",))).hits
            return not remaining

        started = time.monotonic()
        try:
            await eventually(gone_from_kafka, within=BOUNDS_ELAPSED_S)
        except AssertionError:
            raise AssertionError([h.as_json() for h in remaining]) from None
        print(f"nothing of the subject in Kafka {time.monotonic() - started:.1f} s into the bounds")
        kept_in_kafka = await scan(closure(kept, other), stores=("kafka",))
    policies = {t.name: t.cleanup_policy for t in platform_topics}
    kept_topics = {str(dict(h.location)["topic"]) for h in kept_in_kafka.hits}
    compacted = {n for n in kept_topics if policies.get(n) is catalog.CleanupPolicy.COMPACT}
    assert "identity.device-registry.v1" in compacted, kept_topics
