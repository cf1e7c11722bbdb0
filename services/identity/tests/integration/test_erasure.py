"""Identity's erasure on the real Cassandra (a keyspace of its own) and Kafka: an account with
its sessions (two refresh generations), API key, share links and owned device goes, a device
shared with it is only unshared, another account is intact, every planned store is
acknowledged with tombstones where they landed, a second run deletes nothing, the same IMEI
registered again gets a new device id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from identity.bootstrap import IdentityApp
from identity.domain.errors import Unauthenticated
from identity.domain.model import AccountKind, AccountRole
from identity.domain.rules import normalise_email
from identity.erasure import PARTICIPANT, IdentityErasure
from identity.handlers import Identity, TokenPair
from privacy.domain.plan import PARTICIPANT_STORES
from services.identity.tests.integration.conftest import StartIdentity, unique_email, unique_imei
from services.identity.tests.integration.test_identity_service import PASSWORD, platform_of
from tests.integration.helpers import (
    apply_erasure,
    deleted_counts,
    erasure_order,
    records_at,
    tombstoned_keys,
)
from trackstream.privacy.v1.erasure_pb2 import StoreErased, SubjectKind
from trackstream_kafka import EventPublisher, KafkaSettings

TABLES = (
    "identity_accounts",
    "identity_accounts_by_email",
    "identity_sub_accounts",
    "identity_devices",
    "identity_devices_by_identifier",
    "identity_sessions",
    "identity_sessions_by_refresh",
    "identity_sessions_by_account",
    "identity_share_links",
    "identity_api_keys",
    "identity_api_keys_by_account",
    "identity_unpublished",
)
TOPICS = (
    "identity.accounts.v1",
    "identity.device-registry.v1",
    "identity.revocations.v1",
    "identity.api-keys.v1",
)
#: exactly what the privacy service expects identity to acknowledge
PLAN = set(PARTICIPANT_STORES["identity"])
assert {f"cassandra:{t}" for t in TABLES} | {f"kafka:{t}" for t in TOPICS} == PLAN


@dataclass
class Seeded:
    account_id: str
    email: str
    device_id: str
    imei: str
    session_id: str
    refresh_token: str
    key_id: str
    link_ids: list[str]


async def _seed(identity: Identity, parent: str, secrets: list[str]) -> Seeded:
    """An end user with a device, a session refreshed once, an API key and a share link."""
    email = unique_email("erase")
    imei = unique_imei()
    secrets.extend([email, imei])
    account = await identity.create_account(
        parent_account_id=parent,
        kind=AccountKind.END_USER,
        role=AccountRole.ADMIN,
        email=email,
        phone="",
        display_name="Someone",
        password=PASSWORD,
    )
    device = await identity.register_device(
        owner_account_id=account.account_id,
        identifier=imei,
        protocol="gt06",
        model="GT06N",
        name="Car",
        device_timezone="UTC",
        expiry_time=None,
    )
    first = await identity.issue_token(email=email, password=PASSWORD)
    pair = await identity.refresh_token(refresh_token=first.refresh_token)  # 2 generations
    key = await identity.create_api_key(
        account_id=account.account_id, name="ci", expires_time=None, read_only=True
    )
    link = await identity.create_share_link(
        device_id=device.device_id, account_id=account.account_id, expires_time=None
    )
    return Seeded(
        account_id=account.account_id,
        email=email,
        device_id=device.device_id,
        imei=imei,
        session_id=pair.session_id,
        refresh_token=pair.refresh_token,
        key_id=key.key.key_id,
        link_ids=[link.link.link_id],
    )


async def _held(app: IdentityApp, s: Seeded) -> int:
    """Rows about the subject, found by key and through the account's partitions."""
    db, store = app.cassandra, app.identity.store
    found = (await store.get_account(s.account_id) is not None) + (
        await store.account_id_by_email(app.identity._email_hmac(normalise_email(s.email)))
        is not None
    )
    found += await store.get_device(s.device_id) is not None
    found += len(await store.sessions_of(s.account_id))
    found += await store.get_session(s.session_id) is not None
    found += len(
        await db.execute(
            "SELECT refresh_sha256 FROM identity_sessions_by_refresh WHERE session_id = ?",
            (s.session_id,),
        )
    )
    found += len(await store.api_keys_of(s.account_id))
    found += sum([await store.get_share_link(link) is not None for link in s.link_ids])
    return found


async def _tombstones(store: StoreErased) -> set[str]:
    topic = store.store.removeprefix("kafka:")
    places = [(t.partition, t.offset) for t in store.tombstones]
    return tombstoned_keys(await records_at(KafkaSettings(), topic, places))


async def test_an_account_is_erased_whole_and_another_kept(
    start_identity: StartIdentity, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    app = await start_identity()
    identity = app.identity
    root = await platform_of(app, secrets)
    erased = await _seed(identity, root, secrets)
    kept = await _seed(identity, root, secrets)
    # the kept account shares its device with the erased one, and the erased one made a link
    # for the kept device while it could see it
    await identity.share_device(
        device_id=kept.device_id, account_id=erased.account_id, until_time=None
    )
    link = await identity.create_share_link(
        device_id=kept.device_id,
        account_id=erased.account_id,
        expires_time=datetime.now(UTC) + timedelta(hours=1),
    )
    erased.link_ids.append(link.link.link_id)
    # account, e-mail, device, session (index + row + 2 generations), key, 2 links
    assert await _held(app, erased) == 1 + 1 + 1 + 1 + 1 + 2 + 1 + 2

    order = erasure_order(
        SubjectKind.SUBJECT_KIND_ACCOUNT,
        erased.account_id,
        device_ids=[erased.device_id],
        account_ids=[erased.account_id],
    )
    stores = await apply_erasure(PARTICIPANT, app.erasure.erase, order)

    assert set(stores) == PLAN
    assert deleted_counts(stores) == {
        "cassandra:identity_unpublished": 0,  # marks are cleared once published
        "cassandra:identity_accounts": 1,
        "cassandra:identity_accounts_by_email": 1,
        "cassandra:identity_sub_accounts": 1,
        "cassandra:identity_devices": 1 + 1,  # its device deleted, the kept one unshared
        "cassandra:identity_devices_by_identifier": 1,
        "cassandra:identity_sessions": 1,
        "cassandra:identity_sessions_by_refresh": 2,
        "cassandra:identity_sessions_by_account": 1,
        "cassandra:identity_share_links": 2,
        "cassandra:identity_api_keys": 1,
        "cassandra:identity_api_keys_by_account": 1,
        "kafka:identity.accounts.v1": 1,
        "kafka:identity.device-registry.v1": 1,
        "kafka:identity.revocations.v1": 1 + 2,
        "kafka:identity.api-keys.v1": 1,
    }
    assert await _held(app, erased) == 0
    assert await _tombstones(stores["kafka:identity.accounts.v1"]) == {erased.account_id}
    assert await _tombstones(stores["kafka:identity.device-registry.v1"]) == {erased.device_id}
    assert await _tombstones(stores["kafka:identity.revocations.v1"]) == {
        erased.session_id,
        *erased.link_ids,
    }
    assert await _tombstones(stores["kafka:identity.api-keys.v1"]) == {erased.key_id}
    now = datetime.now(UTC).timestamp()
    for name, store in stores.items():
        # gc_grace_seconds read from the schema: 3 days (migration 0011); compaction: three
        # 1 h segment rolls + 24 h delete.retention.ms + 5 minutes for the cleaner = 27 h 5 min
        bound = 259_200 if name.startswith("cassandra:") else 27 * 3600 + 300
        assert abs(store.physically_gone_by.seconds - (now + bound)) < 120, name

    # the erased session stops working; the kept account is whole, its device unshared
    try:
        await identity.refresh_token(refresh_token=erased.refresh_token)
        raise AssertionError("the erased account's refresh token still works")
    except Unauthenticated:
        pass
    assert await _held(app, kept) == 1 + 1 + 1 + 1 + 1 + 2 + 1 + 1
    shared = await identity.store.get_device(kept.device_id)
    assert shared is not None and shared.shares == ()
    children = await identity.store.children(root, after="", limit=1000)
    assert kept.account_id in children and erased.account_id not in children

    again = await apply_erasure(PARTICIPANT, app.erasure.erase, order)
    assert set(again) == PLAN
    assert set(deleted_counts(again).values()) == {0}

    # the same IMEI can be registered again, under a new device id
    device = await identity.register_device(
        owner_account_id=kept.account_id,
        identifier=erased.imei,
        protocol="gt06",
        model="GT06N",
        name="Car again",
        device_timezone="UTC",
        expiry_time=None,
    )
    assert device.device_id != erased.device_id


class _LoginDuringErasure:
    """The erasure's publisher; while the first tombstones go out, the user logs in again."""

    def __init__(self, publisher: EventPublisher, identity: Identity, email: str) -> None:
        self._publisher = publisher
        self._login: Callable[[], Awaitable[object]] | None = lambda: identity.issue_token(
            email=email, password=PASSWORD
        )
        self.session_id = ""

    async def publish_tombstones(self, topic: str, keys: list[str]) -> list[tuple[int, int]]:
        if self._login is not None:
            login, self._login = self._login, None
            pair = await login()
            assert isinstance(pair, TokenPair)
            self.session_id = pair.session_id
        return await self._publisher.publish_tombstones(topic, keys)


async def test_a_login_while_the_erasure_runs_is_erased_too(
    start_identity: StartIdentity, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    app = await start_identity()
    root = await platform_of(app, secrets)
    erased = await _seed(app.identity, root, secrets)
    racing = _LoginDuringErasure(app.publisher, app.identity, erased.email)
    erasure = IdentityErasure(app.identity, app.cassandra, cast(EventPublisher, racing))
    order = erasure_order(
        SubjectKind.SUBJECT_KIND_ACCOUNT,
        erased.account_id,
        device_ids=[erased.device_id],
        account_ids=[erased.account_id],
    )
    stores = await apply_erasure(PARTICIPANT, erasure.erase, order)

    assert racing.session_id, "the login did not happen during the erasure"
    assert await app.identity.store.get_session(racing.session_id) is None
    assert await app.identity.store.sessions_of(erased.account_id) == []
    assert deleted_counts(stores)["cassandra:identity_sessions"] == 2
    assert await _tombstones(stores["kafka:identity.revocations.v1"]) >= {
        erased.session_id,
        racing.session_id,
    }
    assert await _held(app, erased) == 0
