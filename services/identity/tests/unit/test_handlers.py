"""The handlers over fakes: what each call stores, publishes and answers."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import pytest

from identity.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from identity.domain.model import (
    Account,
    AccountKind,
    AccountRole,
    Device,
    Retention,
    Session,
)
from identity.handlers import (
    ACCOUNTS_TOPIC,
    API_KEYS_TOPIC,
    BAD_CREDENTIALS,
    REGISTRY_TOPIC,
    REVOCATIONS_TOPIC,
    Identity,
)
from services.identity.tests.unit.conftest import IDENTIFIER_KEY, Harness
from trackstream.identity.v1 import accounts_pb2, credentials_pb2, device_registry_pb2
from trackstream_auth import TokenVerifier, matches, parse_jwks
from trackstream_auth.tokens import InvalidToken
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_kafka import PublishError
from trackstream_simulator.identities import gt06_identity

PASSWORD = "correct horse battery"


async def root(h: Harness) -> Account:
    account, created = await h.identity.bootstrap_platform(
        email="root@example.com", password=PASSWORD, display_name="Root"
    )
    assert created
    return account


async def child(
    identity: Identity, parent: Account, kind: AccountKind, email: str, **extra: object
) -> Account:
    values: dict[str, object] = {
        "parent_account_id": parent.account_id,
        "kind": int(kind),
        "role": 0,
        "email": email,
        "phone": "",
        "display_name": email.split("@")[0],
        "password": PASSWORD,
    }
    return await identity.create_account(**(values | extra))  # type: ignore[arg-type]


async def device(identity: Identity, owner: Account, index: int = 0) -> Device:
    return await identity.register_device(
        owner_account_id=owner.account_id,
        identifier=gt06_identity(1, index).identifier,
        protocol="gt06",
        model="GT06N",
        name="Van 1",
        device_timezone="Asia/Shanghai",
        expiry_time=None,
    )


# ---------------------------------------------------------------------------- accounts


async def test_a_tree_gets_ancestors_and_every_account_is_published(harness: Harness) -> None:
    h = harness
    platform = await root(h)
    distributor = await child(h.identity, platform, AccountKind.DISTRIBUTOR, "d@example.com")
    sub = await child(h.identity, distributor, AccountKind.DISTRIBUTOR, "sub@example.com")
    enterprise = await child(h.identity, sub, AccountKind.ENTERPRISE, "e@example.com")
    user = await child(h.identity, enterprise, AccountKind.END_USER, "u@example.com", role=3)
    assert user.ancestor_account_ids == (
        platform.account_id,
        distributor.account_id,
        sub.account_id,
        enterprise.account_id,
    )
    assert user.parent_account_id == enterprise.account_id
    assert user.role is AccountRole.VIEWER and enterprise.role is AccountRole.ADMIN
    published = h.publisher.on(ACCOUNTS_TOPIC)
    assert [p.key for p in published] == [
        a.account_id for a in (platform, distributor, sub, enterprise, user)
    ]
    last = published[-1].message
    assert isinstance(last, accounts_pb2.AccountChanged)
    assert list(last.ancestor_account_ids) == list(user.ancestor_account_ids)
    assert last.kind == accounts_pb2.ACCOUNT_KIND_END_USER
    assert last.role == accounts_pb2.ACCOUNT_ROLE_VIEWER
    assert "u@example.com" not in str(last)  # the tree event carries no personal data
    assert not h.store.marks


async def test_end_users_have_no_children_and_only_bootstrap_makes_a_platform(
    harness: Harness,
) -> None:
    platform = await root(harness)
    user = await child(harness.identity, platform, AccountKind.END_USER, "u@example.com")
    with pytest.raises(InvalidArgument, match="END_USER"):
        await child(harness.identity, user, AccountKind.END_USER, "v@example.com")
    with pytest.raises(InvalidArgument, match="platform"):
        await child(harness.identity, platform, AccountKind.PLATFORM, "p@example.com")
    with pytest.raises(InvalidArgument, match="parent_account_id is required"):
        await harness.identity.create_account(
            parent_account_id="",
            kind=2,
            role=0,
            email="x@example.com",
            phone="",
            display_name="X",
            password=PASSWORD,
        )
    with pytest.raises(NotFound):
        await harness.identity.create_account(
            parent_account_id="nope",
            kind=2,
            role=0,
            email="x@example.com",
            phone="",
            display_name="X",
            password=PASSWORD,
        )
    again, created = await harness.identity.bootstrap_platform(
        email="other@example.com", password=PASSWORD, display_name="Other"
    )
    assert not created and again.account_id == platform.account_id
    assert len(harness.publisher.on(ACCOUNTS_TOPIC)) == 2  # nothing published for refusals


async def test_an_email_is_unique_whatever_its_case(harness: Harness) -> None:
    platform = await root(harness)
    await child(harness.identity, platform, AccountKind.ENTERPRISE, "Fleet@Example.com")
    with pytest.raises(AlreadyExists, match="e-mail"):
        await child(harness.identity, platform, AccountKind.ENTERPRISE, " fleet@example.COM ")
    assert not harness.store.marks  # the refused create left no unpublished mark


async def test_a_stale_email_claim_without_its_account_is_taken_over(harness: Harness) -> None:
    platform = await root(harness)
    hmac_ = harness.identity._email_hmac("ghost@example.com")
    harness.store.emails[hmac_] = "account-that-was-never-written"
    account = await child(harness.identity, platform, AccountKind.ENTERPRISE, "ghost@example.com")
    assert harness.store.emails[hmac_] == account.account_id


async def test_invalid_fields_are_refused_with_one_line_reasons(harness: Harness) -> None:
    platform = await root(harness)
    base: dict[str, object] = {
        "parent_account_id": platform.account_id,
        "kind": int(AccountKind.ENTERPRISE),
        "role": 0,
        "email": "ok@example.com",
        "phone": "",
        "display_name": "OK",
        "password": PASSWORD,
    }
    cases: list[tuple[dict[str, object], str]] = [
        ({"email": "not-an-email"}, "email"),
        ({"phone": "0170 1234567"}, "E.164"),
        ({"password": "short"}, "password"),
        ({"display_name": ""}, "display_name"),
        ({"kind": 0}, "kind"),
        ({"kind": 9}, "kind"),
        ({"role": 7}, "role"),
    ]
    for change, reason in cases:
        with pytest.raises(InvalidArgument, match=reason) as refused:
            await harness.identity.create_account(**(base | change))  # type: ignore[arg-type]
        assert "\n" not in str(refused.value)


async def test_sub_accounts_are_listed_in_pages(harness: Harness) -> None:
    platform = await root(harness)
    made = {
        (
            await child(harness.identity, platform, AccountKind.END_USER, f"u{i}@example.com")
        ).account_id
        for i in range(5)
    }
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        accounts, token = await harness.identity.list_sub_accounts(
            parent_account_id=platform.account_id, page_size=2, page_token=token
        )
        seen += [a.account_id for a in accounts]
        pages += 1
        if not token:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 5 and pages == 3
    with pytest.raises(InvalidArgument, match="page_token"):
        await harness.identity.list_sub_accounts(
            parent_account_id=platform.account_id, page_size=2, page_token="!!"
        )


async def test_update_account_changes_fields_and_publishes(harness: Harness) -> None:
    platform = await root(harness)
    account = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    updated = await harness.identity.update_account(
        account_id=account.account_id, display_name="Fleet", phone="+491701234567", role=2
    )
    assert (updated.display_name, updated.phone, updated.role) == (
        "Fleet",
        "+491701234567",
        AccountRole.OPERATOR,
    )
    assert (await harness.identity.get_account(account.account_id)) == updated
    event = harness.publisher.on(ACCOUNTS_TOPIC)[-1].message
    assert isinstance(event, accounts_pb2.AccountChanged)
    assert event.role == accounts_pb2.ACCOUNT_ROLE_OPERATOR
    with pytest.raises(FailedPrecondition, match="platform"):
        await harness.identity.update_account(account_id=platform.account_id, disabled=True)
    with pytest.raises(NotFound):
        await harness.identity.get_account("nope")


async def test_retention_is_stored_published_and_bounded(harness: Harness) -> None:
    platform = await root(harness)
    account = await child(harness.identity, platform, AccountKind.ENTERPRISE, "r@example.com")
    harness.identity.max_retention_days = 400
    updated = await harness.identity.update_account(
        account_id=account.account_id, retention=Retention(positions_days=30, alarms_days=90)
    )
    assert updated.retention == Retention(positions_days=30, alarms_days=90, media_days=0)
    assert (await harness.identity.get_account(account.account_id)).retention == updated.retention
    event = harness.publisher.on(ACCOUNTS_TOPIC)[-1].message
    assert isinstance(event, accounts_pb2.AccountChanged)
    assert (event.retention.positions_days, event.retention.alarms_days) == (30, 90)
    assert event.retention.media_days == 0
    # an update without a retention leaves it alone
    renamed = await harness.identity.update_account(account_id=account.account_id, phone="")
    assert renamed.retention == updated.retention
    published = len(harness.publisher.on(ACCOUNTS_TOPIC))
    for bad, reason in (
        (Retention(media_days=-1), "media_days is a number of days"),
        (Retention(alarms_days=401), "alarms_days is at most 400"),
    ):
        with pytest.raises(InvalidArgument, match=reason):
            await harness.identity.update_account(account_id=account.account_id, retention=bad)
    # refused: nothing stored, nothing published
    assert (await harness.identity.get_account(account.account_id)).retention == updated.retention
    assert len(harness.publisher.on(ACCOUNTS_TOPIC)) == published
    cleared = await harness.identity.update_account(
        account_id=account.account_id, retention=Retention()
    )
    assert cleared.retention == Retention()


# ---------------------------------------------------------------------------- tokens


async def test_login_issues_a_verifiable_access_token_and_a_refresh_token(
    harness: Harness,
) -> None:
    platform = await root(harness)
    account = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    pair = await harness.identity.issue_token(email=" E@example.com", password=PASSWORD)
    verifier = TokenVerifier(parse_jwks(harness.identity.jwks()))
    claims = verifier.verify_access(pair.access_token, now=harness.clock.now)
    assert claims.account_id == account.account_id and claims.session_id == pair.session_id
    assert pair.access_expires_time == harness.clock.now + timedelta(minutes=15)
    assert pair.refresh_expires_time == harness.clock.now + timedelta(days=30)
    session = harness.store.sessions[pair.session_id]
    assert pair.refresh_token.encode() not in repr(session).encode()
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify_access(pair.access_token, now=harness.clock.now + timedelta(minutes=16))


async def test_unknown_email_and_wrong_password_look_the_same(harness: Harness) -> None:
    platform = await root(harness)
    await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    answers = []
    for email, password in [("e@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)]:
        with pytest.raises(Unauthenticated) as refused:
            await harness.identity.issue_token(email=email, password=password)
        answers.append(str(refused.value))
    assert answers == [BAD_CREDENTIALS, BAD_CREDENTIALS]


async def test_unknown_email_costs_a_verification_too() -> None:
    """The unknown e-mail verifies against a dummy hash: with production-like parameters its
    time is close to a wrong password's (within a factor, on a shared machine)."""
    from argon2 import PasswordHasher

    from identity.adapters.passwords import Argon2Passwords

    h = Harness()
    h.identity.passwords = Argon2Passwords(PasswordHasher(time_cost=2, memory_cost=16384))
    platform = await root(h)
    await child(h.identity, platform, AccountKind.ENTERPRISE, "e@example.com")

    async def timed(email: str) -> float:
        started = time.perf_counter()
        with pytest.raises(Unauthenticated):
            await h.identity.issue_token(email=email, password="wrong password!")
        return time.perf_counter() - started

    known = min([await timed("e@example.com") for _ in range(3)])
    unknown = min([await timed("nobody@example.com") for _ in range(3)])
    assert unknown > known / 3 and known > unknown / 3


async def test_disabled_accounts_cannot_log_in_and_disabling_ends_sessions(
    harness: Harness,
) -> None:
    platform = await root(harness)
    account = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    pair = await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
    await harness.identity.update_account(account_id=account.account_id, disabled=True)
    with pytest.raises(FailedPrecondition, match="disabled"):
        await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
    # the wrong password still gets the generic answer: disabled is only said to the owner
    with pytest.raises(Unauthenticated):
        await harness.identity.issue_token(email="e@example.com", password="wrong password!")
    revoked = harness.publisher.on(REVOCATIONS_TOPIC)
    assert [p.key for p in revoked] == [pair.session_id]
    with pytest.raises(Unauthenticated):
        await harness.identity.refresh_token(refresh_token=pair.refresh_token)


async def test_refresh_rotates_and_a_reused_token_revokes_the_session(harness: Harness) -> None:
    platform = await root(harness)
    await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    first = await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
    harness.clock.advance(timedelta(minutes=10))
    second = await harness.identity.refresh_token(refresh_token=first.refresh_token)
    assert second.session_id == first.session_id
    assert second.refresh_token != first.refresh_token
    assert second.access_expires_time == harness.clock.now + timedelta(minutes=15)
    assert not harness.publisher.on(REVOCATIONS_TOPIC)

    with pytest.raises(Unauthenticated):  # the retired token again: stolen
        await harness.identity.refresh_token(refresh_token=first.refresh_token)
    [revocation] = harness.publisher.on(REVOCATIONS_TOPIC)
    event = revocation.message
    assert isinstance(event, credentials_pb2.CredentialRevoked)
    assert revocation.key == first.session_id == event.credential_id
    assert event.kind == credentials_pb2.CREDENTIAL_KIND_SESSION
    assert event.expires_time.ToDatetime().timestamp() == pytest.approx(
        second.access_expires_time.timestamp()
    )
    with pytest.raises(Unauthenticated):  # and the thief's (or owner's) newer token dies too
        await harness.identity.refresh_token(refresh_token=second.refresh_token)


async def test_refresh_tokens_expire(harness: Harness) -> None:
    platform = await root(harness)
    await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    pair = await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
    harness.clock.advance(timedelta(days=30, seconds=1))
    with pytest.raises(Unauthenticated):
        await harness.identity.refresh_token(refresh_token=pair.refresh_token)
    with pytest.raises(Unauthenticated):
        await harness.identity.refresh_token(refresh_token="made-up")


async def test_a_lost_rotation_race_counts_as_reuse(harness: Harness) -> None:
    platform = await root(harness)
    await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    pair = await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
    real_rotate = harness.store.rotate_session

    async def lose(old: Session, new: Session) -> bool:
        return False

    harness.store.rotate_session = lose  # type: ignore[method-assign]
    with pytest.raises(Unauthenticated):
        await harness.identity.refresh_token(refresh_token=pair.refresh_token)
    harness.store.rotate_session = real_rotate  # type: ignore[method-assign]
    assert harness.store.sessions[pair.session_id].revoked


async def test_revoke_by_session_or_refresh_token(harness: Harness) -> None:
    platform = await root(harness)
    await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    a = await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
    b = await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
    revoked_a = await harness.identity.revoke_token(session_id=a.session_id, refresh_token="")
    revoked_b = await harness.identity.revoke_token(session_id="", refresh_token=b.refresh_token)
    assert (revoked_a.session_id, revoked_b.session_id) == (a.session_id, b.session_id)
    assert revoked_a.access_expires_time == a.access_expires_time
    assert [p.key for p in harness.publisher.on(REVOCATIONS_TOPIC)] == [a.session_id, b.session_id]
    with pytest.raises(NotFound):
        await harness.identity.revoke_token(session_id="", refresh_token="unknown")
    with pytest.raises(InvalidArgument):
        await harness.identity.revoke_token(session_id="", refresh_token="")


async def test_a_new_password_revokes_every_session(harness: Harness) -> None:
    platform = await root(harness)
    account = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    pairs = [
        await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
        for _ in range(3)
    ]
    await harness.identity.update_account(
        account_id=account.account_id, password="a brand new password"
    )
    assert {p.key for p in harness.publisher.on(REVOCATIONS_TOPIC)} == {p.session_id for p in pairs}
    with pytest.raises(Unauthenticated):
        await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
    await harness.identity.issue_token(email="e@example.com", password="a brand new password")


async def test_ending_sessions_leaves_revoked_and_expired_ones_alone(harness: Harness) -> None:
    platform = await root(harness)
    account = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    old = await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
    harness.clock.advance(timedelta(days=31))  # refresh and access token long expired
    revoked = await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
    await harness.identity.revoke_token(session_id=revoked.session_id, refresh_token="")
    live = await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
    await harness.identity.update_account(account_id=account.account_id, disabled=True)
    keys = [p.key for p in harness.publisher.on(REVOCATIONS_TOPIC)]
    assert keys == [revoked.session_id, live.session_id]
    assert old.session_id not in keys


async def test_a_hash_with_old_parameters_is_replaced_at_login(harness: Harness) -> None:
    from argon2 import PasswordHasher

    platform = await root(harness)
    account = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    old = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD)
    harness.store.accounts[account.account_id] = replace(account, password_hash=old)
    await harness.identity.issue_token(email="e@example.com", password=PASSWORD)
    new_hash = harness.store.accounts[account.account_id].password_hash
    assert new_hash != old and new_hash.startswith("$argon2id$") and "t=1" in new_hash


# ---------------------------------------------------------------------------- devices


async def test_register_publishes_the_registry_entry_ingest_resolves(harness: Harness) -> None:
    platform = await root(harness)
    owner = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    registered = await device(harness.identity, owner)
    [published] = harness.publisher.on(REGISTRY_TOPIC)
    event = published.message
    assert isinstance(event, device_registry_pb2.DeviceRegistered)
    assert published.key == registered.device_id == event.device_id
    assert event.identifier_hmac == identifier_hmac(IDENTIFIER_KEY, gt06_identity(1, 0).identifier)
    assert (event.owner_account_id, event.device_timezone, event.model, event.protocol) == (
        owner.account_id,
        "Asia/Shanghai",
        "GT06N",
        "gt06",
    )
    assert not event.disabled and not event.HasField("expiry_time") and not event.shares
    assert gt06_identity(1, 0).identifier not in str(event)
    [got] = await harness.identity.get_devices(device_ids=["missing", registered.device_id])
    assert got == registered


async def test_a_registered_identifier_cannot_be_registered_again(harness: Harness) -> None:
    platform = await root(harness)
    owner = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    await device(harness.identity, owner)
    with pytest.raises(AlreadyExists, match="identifier"):
        await device(harness.identity, owner)
    with pytest.raises(AlreadyExists):  # JT/T 808 leading zeros resolve to the same HMAC
        await harness.identity.register_device(
            owner_account_id=owner.account_id,
            identifier="0" + gt06_identity(1, 0).identifier,
            protocol="jt808",
            model="",
            name="",
            device_timezone="",
            expiry_time=None,
        )
    assert len(harness.publisher.on(REGISTRY_TOPIC)) == 1 and not harness.store.marks


async def test_register_checks_owner_protocol_zone_and_expiry(harness: Harness) -> None:
    platform = await root(harness)
    owner = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    base: dict[str, object] = {
        "owner_account_id": owner.account_id,
        "identifier": "868120000000005",
        "protocol": "gt06",
        "model": "",
        "name": "",
        "device_timezone": "",
        "expiry_time": None,
    }
    cases: list[tuple[dict[str, object], type[Exception]]] = [
        ({"owner_account_id": "nope"}, NotFound),
        ({"protocol": "teltonika"}, InvalidArgument),
        ({"device_timezone": "Nowhere/City"}, InvalidArgument),
        ({"expiry_time": harness.clock.now}, InvalidArgument),
        ({"identifier": "12345"}, InvalidArgument),
    ]
    for change, error in cases:
        with pytest.raises(error):
            await harness.identity.register_device(**(base | change))  # type: ignore[arg-type]
    registered = await harness.identity.register_device(**base)  # type: ignore[arg-type]
    assert registered.device_timezone == "UTC"
    await harness.identity.update_account(account_id=owner.account_id, disabled=True)
    with pytest.raises(FailedPrecondition):
        await harness.identity.register_device(**(base | {"identifier": "868120000000013"}))  # type: ignore[arg-type]


async def test_update_transfer_share_unshare_each_publish_the_whole_entry(
    harness: Harness,
) -> None:
    platform = await root(harness)
    owner = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    other = await child(harness.identity, platform, AccountKind.ENTERPRISE, "o@example.com")
    viewer = await child(harness.identity, owner, AccountKind.END_USER, "v@example.com")
    registered = await device(harness.identity, owner)
    until = harness.clock.now + timedelta(days=3)
    expiry = harness.clock.now + timedelta(days=365)

    updated = await harness.identity.update_device(
        device_id=registered.device_id, name="Truck", disabled=True, expiry_time=expiry
    )
    assert (updated.name, updated.disabled, updated.expiry_time) == ("Truck", True, expiry)
    shared = await harness.identity.share_device(
        device_id=registered.device_id, account_id=viewer.account_id, until_time=until
    )
    assert [(s.account_id, s.until_time) for s in shared.shares] == [(viewer.account_id, until)]
    event = harness.publisher.on(REGISTRY_TOPIC)[-1].message
    assert isinstance(event, device_registry_pb2.DeviceRegistered)
    assert event.disabled and event.expiry_time.ToDatetime().year == expiry.year
    assert [s.account_id for s in event.shares] == [viewer.account_id]
    unshared = await harness.identity.unshare_device(
        device_id=registered.device_id, account_id=viewer.account_id
    )
    assert unshared.shares == ()
    await harness.identity.share_device(
        device_id=registered.device_id, account_id=viewer.account_id, until_time=None
    )
    moved = await harness.identity.transfer_device(
        device_id=registered.device_id, new_owner_account_id=other.account_id
    )
    assert moved.owner_account_id == other.account_id and moved.shares == ()
    cleared = await harness.identity.update_device(
        device_id=registered.device_id, clear_expiry=True
    )
    assert cleared.expiry_time is None
    events = [p.message for p in harness.publisher.on(REGISTRY_TOPIC)]
    assert len(events) == 7
    last = events[-1]
    assert isinstance(last, device_registry_pb2.DeviceRegistered)
    assert last.owner_account_id == other.account_id and not last.HasField("expiry_time")


async def test_transfers_and_shares_refuse_bad_recipients(harness: Harness) -> None:
    platform = await root(harness)
    owner = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    gone = await child(harness.identity, platform, AccountKind.ENTERPRISE, "g@example.com")
    await harness.identity.update_account(account_id=gone.account_id, disabled=True)
    registered = await device(harness.identity, owner)
    with pytest.raises(FailedPrecondition, match="disabled"):
        await harness.identity.transfer_device(
            device_id=registered.device_id, new_owner_account_id=gone.account_id
        )
    with pytest.raises(NotFound):
        await harness.identity.transfer_device(
            device_id=registered.device_id, new_owner_account_id="nope"
        )
    with pytest.raises(InvalidArgument, match="owner"):
        await harness.identity.share_device(
            device_id=registered.device_id, account_id=owner.account_id, until_time=None
        )
    with pytest.raises(InvalidArgument, match="future"):
        await harness.identity.share_device(
            device_id=registered.device_id,
            account_id=platform.account_id,
            until_time=harness.clock.now - timedelta(seconds=1),
        )
    with pytest.raises(NotFound):
        await harness.identity.update_device(device_id="nope", name="x")
    with pytest.raises(InvalidArgument):
        await harness.identity.get_devices(device_ids=["d"] * 1001)
    assert len(harness.publisher.on(REGISTRY_TOPIC)) == 1


# ---------------------------------------------------------------------------- credentials


async def test_api_keys_are_published_as_hashes_and_revoked_with_a_tombstone(
    harness: Harness,
) -> None:
    platform = await root(harness)
    owner = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    issued = await harness.identity.create_api_key(
        account_id=owner.account_id, name="erp-sync", expires_time=None, read_only=True
    )
    [record] = harness.publisher.on(API_KEYS_TOPIC)
    event = record.message
    assert isinstance(event, credentials_pb2.ApiKeyIssued)
    assert record.key == issued.key.key_id == event.key_id
    assert matches(issued.secret, event.secret_sha256) and event.read_only
    assert issued.secret not in str(event)
    assert [
        k.key_id for k in await harness.identity.list_api_keys(account_id=owner.account_id)
    ] == [issued.key.key_id]
    await harness.identity.revoke_api_key(key_id=issued.key.key_id)
    tombstone = harness.publisher.on(API_KEYS_TOPIC)[-1]
    assert tombstone.key == issued.key.key_id and tombstone.message is None
    assert await harness.identity.list_api_keys(account_id=owner.account_id) == []
    with pytest.raises(NotFound):
        await harness.identity.revoke_api_key(key_id="nope")
    with pytest.raises(InvalidArgument):
        await harness.identity.create_api_key(
            account_id=owner.account_id, name="", expires_time=None, read_only=False
        )


async def test_share_links_verify_and_their_revocation_is_published(harness: Harness) -> None:
    platform = await root(harness)
    owner = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    registered = await device(harness.identity, owner)
    expires = harness.clock.now + timedelta(days=2)
    issued = await harness.identity.create_share_link(
        device_id=registered.device_id, account_id=owner.account_id, expires_time=expires
    )
    claims = TokenVerifier(parse_jwks(harness.identity.jwks())).verify_share(
        issued.token, now=harness.clock.now
    )
    assert (claims.link_id, claims.device_id) == (issued.link.link_id, registered.device_id)
    with pytest.raises(NotFound):  # named with another device: as if there were no link
        await harness.identity.revoke_share_link(link_id=issued.link.link_id, device_id="other")
    revoked = await harness.identity.revoke_share_link(link_id=issued.link.link_id)
    assert revoked.expires_time == expires
    [record] = harness.publisher.on(REVOCATIONS_TOPIC)
    event = record.message
    assert isinstance(event, credentials_pb2.CredentialRevoked)
    assert event.kind == credentials_pb2.CREDENTIAL_KIND_SHARE_LINK
    assert event.credential_id == issued.link.link_id == record.key
    assert event.expires_time.ToDatetime().timestamp() == pytest.approx(expires.timestamp())


async def test_share_links_last_at_most_seven_days(harness: Harness) -> None:
    platform = await root(harness)
    owner = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    registered = await device(harness.identity, owner)
    with pytest.raises(InvalidArgument, match="7 days"):
        await harness.identity.create_share_link(
            device_id=registered.device_id,
            account_id=owner.account_id,
            expires_time=harness.clock.now + timedelta(days=7, minutes=1),
        )
    default = await harness.identity.create_share_link(
        device_id=registered.device_id, account_id=owner.account_id, expires_time=None
    )
    assert default.link.expires_time == harness.clock.now + timedelta(hours=24)
    with pytest.raises(NotFound):
        await harness.identity.create_share_link(
            device_id="nope", account_id=owner.account_id, expires_time=None
        )


# ---------------------------------------------------------------------------- write, then publish


async def test_a_failed_publish_answers_unavailable_and_is_republished(harness: Harness) -> None:
    platform = await root(harness)
    owner = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    harness.publisher.fail_next = PublishError("broker away")
    with pytest.raises(Unavailable):
        await device(harness.identity, owner)
    [(kind, device_id, _)] = await harness.store.unpublished()
    assert kind == "device" and device_id in harness.store.devices
    assert not harness.publisher.on(REGISTRY_TOPIC)

    harness.clock.advance(timedelta(seconds=1))
    harness.publisher.fail_next = PublishError("still away")
    with pytest.raises(Unavailable):
        await harness.identity.republish()
    assert len(await harness.store.unpublished()) == 1

    assert await harness.identity.republish() == 1
    [published] = harness.publisher.on(REGISTRY_TOPIC)
    assert published.key == device_id
    assert await harness.store.unpublished() == []
    assert await harness.identity.republish() == 0


async def test_young_marks_are_left_to_the_call_that_made_them(harness: Harness) -> None:
    """A mark younger than the grace may belong to a call still writing: the pass skips it."""
    platform = await root(harness)
    await harness.store.mark_unpublished("account", platform.account_id)
    before = len(harness.publisher.published)
    assert await harness.identity.republish(older_than=timedelta(seconds=60)) == 0
    assert len(harness.publisher.published) == before
    harness.clock.advance(timedelta(seconds=61))
    assert await harness.identity.republish(older_than=timedelta(seconds=60)) == 1
    assert harness.publisher.published[-1].key == platform.account_id


async def test_a_revoked_api_key_is_republished_as_a_tombstone(harness: Harness) -> None:
    platform = await root(harness)
    owner = await child(harness.identity, platform, AccountKind.ENTERPRISE, "e@example.com")
    issued = await harness.identity.create_api_key(
        account_id=owner.account_id, name="k", expires_time=None, read_only=False
    )
    harness.publisher.fail_next = PublishError("broker away")
    with pytest.raises(Unavailable):
        await harness.identity.revoke_api_key(key_id=issued.key.key_id)
    harness.clock.advance(timedelta(seconds=1))
    assert await harness.identity.republish() == 1
    last = harness.publisher.on(API_KEYS_TOPIC)[-1]
    assert last.key == issued.key.key_id and last.message is None
