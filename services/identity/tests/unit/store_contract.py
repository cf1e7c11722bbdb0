"""One set of assertions for every IdentityStore: the in-memory fake (unit tests) and the
Cassandra adapter (integration tests) must behave the same, conditional writes included."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from identity.domain.model import (
    Account,
    AccountKind,
    AccountRole,
    ApiKey,
    Device,
    DeviceShare,
    LocationConsent,
    Retention,
    Session,
    ShareLink,
)
from identity.ports import IdentityStore

#: millisecond precision, as Cassandra keeps timestamps
NOW = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def an_account(**changes: object) -> Account:
    values: dict[str, object] = {
        "account_id": new_id(),
        "parent_account_id": "p",
        "ancestor_account_ids": ("root", "p"),
        "kind": AccountKind.ENTERPRISE,
        "role": AccountRole.OPERATOR,
        "email": "e@example.com",
        "phone": "+491701234567",
        "display_name": "E",
        "password_hash": "$argon2id$v=19$m=8,t=1,p=1$x$y",
        "disabled": False,
        "created_time": NOW,
    }
    return Account(**(values | changes))  # type: ignore[arg-type]


def a_session(account_id: str, generation: int = 0) -> Session:
    return Session(
        session_id=new_id(),
        account_id=account_id,
        refresh_sha256=uuid.uuid4().bytes * 2,
        generation=generation,
        created_time=NOW,
        expires_time=NOW + timedelta(days=30),
        access_expires_time=NOW + timedelta(minutes=15),
        revoked=False,
    )


class StoreContract:
    """Subclasses provide a ``store`` fixture."""

    async def test_an_email_is_claimed_once(self, store: IdentityStore) -> None:
        email = uuid.uuid4().bytes * 2
        first, second = new_id(), new_id()
        assert await store.claim_email(email, first) is None
        assert await store.claim_email(email, second) == first
        assert await store.account_id_by_email(email) == first
        assert not await store.take_over_email(email, "someone-else", second)
        assert await store.take_over_email(email, first, second)
        assert await store.account_id_by_email(email) == second
        assert await store.account_id_by_email(uuid.uuid4().bytes) is None

    async def test_accounts_round_trip_and_children_page(self, store: IdentityStore) -> None:
        account = an_account(retention=Retention(positions_days=30, media_days=7))
        await store.save_account(account)
        assert await store.get_account(account.account_id) == account
        plain = an_account()  # no retention set: every kind 0
        await store.save_account(plain)
        assert await store.get_account(plain.account_id) == plain
        assert await store.get_account(new_id()) is None
        parent = new_id()
        kids = sorted(new_id() for _ in range(5))
        for kid in kids:
            await store.add_child(parent, kid)
        assert await store.children(parent, after="", limit=3) == kids[:3]
        assert await store.children(parent, after=kids[2], limit=3) == kids[3:]

    async def test_devices_round_trip_with_shares_and_identifiers_are_claimed_once(
        self, store: IdentityStore
    ) -> None:
        device = Device(
            device_id=new_id(),
            identifier="868120000000005",
            identifier_hmac=uuid.uuid4().bytes * 2,
            protocol="gt06",
            model="GT06N",
            name="Van",
            owner_account_id="o",
            device_timezone="Asia/Shanghai",
            disabled=True,
            expiry_time=NOW + timedelta(days=365),
            registered_time=NOW,
            shares=(DeviceShare("a", None), DeviceShare("b", NOW + timedelta(days=1))),
            location_consent=LocationConsent.WITHDRAWN,
            worn_by_minor=True,
            guardian_consent=True,
        )
        assert await store.claim_identifier(device.identifier_hmac, device.device_id) is None
        assert await store.claim_identifier(device.identifier_hmac, new_id()) == device.device_id
        await store.save_device(device)
        assert await store.get_device(device.device_id) == device
        other = new_id()
        assert await store.get_devices([other, device.device_id]) == [device]
        assert await store.take_over_identifier(device.identifier_hmac, device.device_id, other)

    async def test_sessions_rotate_conditionally(self, store: IdentityStore) -> None:
        session = a_session(new_id())
        await store.save_session(session)
        assert await store.get_session(session.session_id) == session
        assert await store.session_id_by_refresh(session.refresh_sha256) == session.session_id
        assert await store.sessions_of(session.account_id) == [session.session_id]
        new = Session(
            **{
                **{f: getattr(session, f) for f in Session.__dataclass_fields__},
                "refresh_sha256": uuid.uuid4().bytes * 2,
                "generation": 1,
            }
        )
        assert await store.rotate_session(session, new)
        assert not await store.rotate_session(session, new)  # generation 0 is gone
        assert (await store.get_session(session.session_id)) == new
        # the retired token still finds its session: that is how reuse is detected
        assert await store.session_id_by_refresh(session.refresh_sha256) == session.session_id
        await store.revoke_session(session.session_id)
        revoked = await store.get_session(session.session_id)
        assert revoked is not None and revoked.revoked
        newer = Session(
            **{
                **{f: getattr(new, f) for f in Session.__dataclass_fields__},
                "refresh_sha256": uuid.uuid4().bytes * 2,
                "generation": 2,
            }
        )
        assert not await store.rotate_session(new, newer)  # revoked sessions do not rotate

    async def test_share_links_and_api_keys_round_trip(self, store: IdentityStore) -> None:
        link = ShareLink(new_id(), "d", "a", NOW, NOW + timedelta(days=2), revoked=False)
        await store.save_share_link(link)
        assert await store.get_share_link(link.link_id) == link
        account = new_id()
        keys = [
            ApiKey(new_id(), account, "k1", b"x" * 32, NOW, None, read_only=True, revoked=False),
            ApiKey(new_id(), account, "k2", b"y" * 32, NOW, NOW + timedelta(days=9), False, True),
        ]
        for key in keys:
            await store.save_api_key(key)
        assert await store.get_api_key(keys[1].key_id) == keys[1]
        assert sorted(await store.api_keys_of(account), key=lambda k: k.key_id) == sorted(
            keys, key=lambda k: k.key_id
        )

    async def test_clearing_an_older_mark_keeps_a_newer_one(self, store: IdentityStore) -> None:
        entity = new_id()
        older = await store.mark_unpublished("device", entity)
        newer = await store.mark_unpublished("device", entity)
        assert newer > older
        await store.clear_unpublished("device", entity, older)
        assert ("device", entity, newer) in await store.unpublished()
        await store.clear_unpublished("device", entity, newer)
        assert [m for m in await store.unpublished() if m[1] == entity] == []
