"""IdentityService over gRPC against the real Cassandra and Kafka."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from identity.bootstrap import IdentityApp
from identity.handlers import ACCOUNTS_TOPIC, API_KEYS_TOPIC, REGISTRY_TOPIC, REVOCATIONS_TOPIC
from identity.ports import Publisher
from services.identity.tests.integration.conftest import (
    IDENTIFIER_KEY,
    StartIdentity,
    TopicWatch,
    stub_of,
    unique_email,
    unique_imei,
)
from trackstream.identity.v1 import accounts_pb2, credentials_pb2, device_registry_pb2
from trackstream.identity.v1 import identity_service_pb2 as pb
from trackstream.identity.v1 import identity_service_pb2_grpc as pb_grpc
from trackstream_auth import TokenVerifier, matches, parse_jwks
from trackstream_events.envelope import Envelope
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_events.retention import AccountRetentionPolicy, DataKind
from trackstream_kafka import PublishError
from trackstream_kafka.settings import KafkaSettings
from trackstream_kafka.table import CompactedTable

PASSWORD = "correct horse battery staple"


def ts(when: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


async def platform_of(app: IdentityApp, secrets: list[str]) -> str:
    email = unique_email("platform")
    secrets.append(email)
    account, _ = await app.identity.bootstrap_platform(
        email=email, password=PASSWORD, display_name="Platform"
    )
    return account.account_id


async def create(
    stub: pb_grpc.IdentityServiceStub,
    parent: str,
    kind: int,
    secrets: list[str],
    *,
    email: str | None = None,
    phone: str = "",
) -> pb.Account:
    email = email or unique_email()
    secrets.extend([email, phone])
    account: pb.Account = await stub.CreateAccount(
        pb.CreateAccountRequest(
            parent_account_id=parent,
            kind=kind,  # type: ignore[arg-type]
            email=email,
            phone=phone,
            display_name="Someone",
            password=PASSWORD,
        )
    )
    return account


async def test_an_account_tree_is_stored_and_published(
    start_identity: StartIdentity, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    app = await start_identity()
    root = await platform_of(app, secrets)
    channel, stub = stub_of(app)
    async with channel, TopicWatch(ACCOUNTS_TOPIC) as accounts:
        distributor = await create(stub, root, accounts_pb2.ACCOUNT_KIND_DISTRIBUTOR, secrets)
        enterprise = await create(
            stub,
            distributor.account_id,
            accounts_pb2.ACCOUNT_KIND_ENTERPRISE,
            secrets,
            phone="+491701234567",
        )
        user = await create(
            stub, enterprise.account_id, accounts_pb2.ACCOUNT_KIND_END_USER, secrets
        )
        assert list(user.ancestor_account_ids) == [
            root,
            distributor.account_id,
            enterprise.account_id,
        ]
        got = await stub.GetAccount(pb.GetAccountRequest(account_id=enterprise.account_id))
        assert got == enterprise and got.phone == "+491701234567"
        listed = await stub.ListSubAccounts(
            pb.ListSubAccountsRequest(parent_account_id=distributor.account_id)
        )
        assert [a.account_id for a in listed.accounts] == [enterprise.account_id]
        record = await accounts.until(lambda r: r.key == user.account_id.encode())
        event = accounts_pb2.AccountChanged.FromString(record.value)
        assert list(event.ancestor_account_ids) == list(user.ancestor_account_ids)
        envelope = Envelope.from_headers(record.headers)
        assert envelope.type == "trackstream.identity.v1.AccountChanged"
        assert envelope.subject == user.account_id and envelope.source == "/identity"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await create(stub, user.account_id, accounts_pb2.ACCOUNT_KIND_END_USER, secrets)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.GetAccount(pb.GetAccountRequest(account_id="no-such-account"))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_concurrent_creates_with_one_email_make_one_account(
    start_identity: StartIdentity, secrets: list[str]
) -> None:
    app = await start_identity()
    root = await platform_of(app, secrets)
    email = unique_email("race")
    channel, stub = stub_of(app)
    async with channel:
        results = await asyncio.gather(
            *(
                create(
                    stub,
                    root,
                    accounts_pb2.ACCOUNT_KIND_ENTERPRISE,
                    secrets,
                    email=email if i % 2 else email.upper(),
                )
                for i in range(8)
            ),
            return_exceptions=True,
        )
    created = [r for r in results if isinstance(r, pb.Account)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(created) == 1, results
    assert len(refused) == 7
    assert {r.code() for r in refused} == {grpc.StatusCode.ALREADY_EXISTS}


async def test_login_refresh_rotation_reuse_and_revoke(
    start_identity: StartIdentity, secrets: list[str]
) -> None:
    app = await start_identity()
    root = await platform_of(app, secrets)
    email = unique_email("login")
    channel, stub = stub_of(app)
    async with channel, TopicWatch(REVOCATIONS_TOPIC) as revocations:
        account = await create(
            stub, root, accounts_pb2.ACCOUNT_KIND_ENTERPRISE, secrets, email=email
        )
        for wrong in (
            pb.IssueTokenRequest(email=email, password="not the password"),
            pb.IssueTokenRequest(email=unique_email("nobody"), password=PASSWORD),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.IssueToken(wrong)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert refused.value.details() == "wrong e-mail or password"
        first = await stub.IssueToken(pb.IssueTokenRequest(email=email.lower(), password=PASSWORD))
        secrets.extend([first.access_token, first.refresh_token])
        jwks = await stub.GetJwks(pb.GetJwksRequest())
        claims = TokenVerifier(parse_jwks(jwks.jwks_json)).verify_access(first.access_token)
        assert (claims.account_id, claims.session_id) == (account.account_id, first.session_id)

        second = await stub.RefreshToken(pb.RefreshTokenRequest(refresh_token=first.refresh_token))
        secrets.extend([second.access_token, second.refresh_token])
        assert second.session_id == first.session_id
        assert second.refresh_token != first.refresh_token
        with pytest.raises(grpc.aio.AioRpcError) as reused:
            await stub.RefreshToken(pb.RefreshTokenRequest(refresh_token=first.refresh_token))
        assert reused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        record = await revocations.until(lambda r: r.key == first.session_id.encode())
        event = credentials_pb2.CredentialRevoked.FromString(record.value)
        assert event.kind == credentials_pb2.CREDENTIAL_KIND_SESSION
        assert event.account_id == account.account_id
        assert event.expires_time.seconds == second.access_expires_time.seconds
        with pytest.raises(grpc.aio.AioRpcError) as dead:
            await stub.RefreshToken(pb.RefreshTokenRequest(refresh_token=second.refresh_token))
        assert dead.value.code() == grpc.StatusCode.UNAUTHENTICATED

        other = await stub.IssueToken(pb.IssueTokenRequest(email=email, password=PASSWORD))
        secrets.extend([other.access_token, other.refresh_token])
        revoked = await stub.RevokeToken(pb.RevokeTokenRequest(refresh_token=other.refresh_token))
        assert revoked.credential_id == other.session_id
        await revocations.until(lambda r: r.key == other.session_id.encode())

        third = await stub.IssueToken(pb.IssueTokenRequest(email=email, password=PASSWORD))
        secrets.extend([third.access_token, third.refresh_token])
        new_password = "a different long password"
        secrets.append(new_password)
        await stub.UpdateAccount(
            pb.UpdateAccountRequest(account_id=account.account_id, password=new_password)
        )
        await revocations.until(lambda r: r.key == third.session_id.encode())
        await stub.UpdateAccount(
            pb.UpdateAccountRequest(account_id=account.account_id, disabled=True)
        )
        with pytest.raises(grpc.aio.AioRpcError) as disabled:
            await stub.IssueToken(pb.IssueTokenRequest(email=email, password=new_password))
        assert disabled.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_devices_are_published_for_ingest_and_identifiers_are_unique(
    start_identity: StartIdentity, secrets: list[str]
) -> None:
    app = await start_identity()
    root = await platform_of(app, secrets)
    imei = unique_imei()
    secrets.append(imei)
    registry: CompactedTable[device_registry_pb2.DeviceRegistered] = CompactedTable(
        KafkaSettings(),
        REGISTRY_TOPIC,
        device_registry_pb2.DeviceRegistered.FromString,
        client_id="identity-test-registry",
    )
    stopping = asyncio.Event()
    following = asyncio.create_task(registry.run(stopping))
    channel, stub = stub_of(app)
    try:
        async with channel:
            owner = await create(stub, root, accounts_pb2.ACCOUNT_KIND_ENTERPRISE, secrets)
            other = await create(stub, root, accounts_pb2.ACCOUNT_KIND_ENTERPRISE, secrets)
            viewer = await create(
                stub, owner.account_id, accounts_pb2.ACCOUNT_KIND_END_USER, secrets
            )
            request = pb.RegisterDeviceRequest(
                owner_account_id=owner.account_id,
                identifier=imei,
                protocol="gt06",
                model="GT06N",
                name="Van",
                device_timezone="Asia/Shanghai",
            )
            attempts = await asyncio.gather(
                *(stub.RegisterDevice(request) for _ in range(4)), return_exceptions=True
            )
            [device] = [a for a in attempts if isinstance(a, pb.Device)]
            assert {a.code() for a in attempts if isinstance(a, grpc.aio.AioRpcError)} == {
                grpc.StatusCode.ALREADY_EXISTS
            }
            await asyncio.wait_for(registry.ready.wait(), 60)

            async def entry(check: object) -> device_registry_pb2.DeviceRegistered:
                for _ in range(200):
                    found = registry.get(device.device_id)
                    if found is not None and check(found):  # type: ignore[operator]
                        return found
                    await asyncio.sleep(0.05)
                raise AssertionError(
                    f"registry entry never matched: {registry.get(device.device_id)}"
                )

            registered = await entry(lambda e: True)
            assert registered.identifier_hmac == identifier_hmac(IDENTIFIER_KEY.encode(), imei)
            assert (registered.owner_account_id, registered.protocol, registered.model) == (
                owner.account_id,
                "gt06",
                "GT06N",
            )
            got = await stub.GetDevices(pb.GetDevicesRequest(device_ids=["nope", device.device_id]))
            assert [d.identifier for d in got.devices] == [imei]

            until = datetime.now(UTC) + timedelta(days=2)
            await stub.ShareDevice(
                pb.ShareDeviceRequest(
                    device_id=device.device_id, account_id=viewer.account_id, until_time=ts(until)
                )
            )
            shared = await entry(lambda e: len(e.shares) == 1)
            assert shared.shares[0].account_id == viewer.account_id
            await stub.UnshareDevice(
                pb.UnshareDeviceRequest(device_id=device.device_id, account_id=viewer.account_id)
            )
            await entry(lambda e: len(e.shares) == 0)
            assert registered.location_consent == device_registry_pb2.LOCATION_CONSENT_UNSPECIFIED
            # consent is recorded, withdrawn, and reaches ingest through the registry
            await stub.UpdateDevice(
                pb.UpdateDeviceRequest(
                    device_id=device.device_id,
                    location_consent=device_registry_pb2.LOCATION_CONSENT_GRANTED,
                    worn_by_minor=True,
                )
            )
            minor = await entry(lambda e: e.worn_by_minor)
            assert minor.location_consent == device_registry_pb2.LOCATION_CONSENT_GRANTED
            assert not minor.guardian_consent
            await stub.UpdateDevice(
                pb.UpdateDeviceRequest(
                    device_id=device.device_id,
                    location_consent=device_registry_pb2.LOCATION_CONSENT_WITHDRAWN,
                )
            )
            withdrawn = await entry(
                lambda e: e.location_consent == device_registry_pb2.LOCATION_CONSENT_WITHDRAWN
            )
            assert withdrawn.worn_by_minor  # an update touches only what it names
            with pytest.raises(grpc.aio.AioRpcError) as bad_consent:
                await stub.UpdateDevice(
                    pb.UpdateDeviceRequest(
                        device_id=device.device_id,
                        location_consent=7,  # type: ignore[arg-type]
                    )
                )
            assert bad_consent.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            await stub.UpdateDevice(
                pb.UpdateDeviceRequest(device_id=device.device_id, disabled=True)
            )
            await entry(lambda e: e.disabled)
            await stub.TransferDevice(
                pb.TransferDeviceRequest(
                    device_id=device.device_id, new_owner_account_id=other.account_id
                )
            )
            moved = await entry(lambda e: e.owner_account_id == other.account_id)
            assert moved.disabled
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await stub.TransferDevice(
                    pb.TransferDeviceRequest(
                        device_id=device.device_id, new_owner_account_id="no-such-account"
                    )
                )
            assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        stopping.set()
        await asyncio.wait_for(following, 30)


async def test_api_keys_are_published_then_tombstoned(
    start_identity: StartIdentity, secrets: list[str]
) -> None:
    app = await start_identity()
    root = await platform_of(app, secrets)
    channel, stub = stub_of(app)
    async with channel, TopicWatch(API_KEYS_TOPIC) as keys:
        owner = await create(stub, root, accounts_pb2.ACCOUNT_KIND_ENTERPRISE, secrets)
        created = await stub.CreateApiKey(
            pb.CreateApiKeyRequest(account_id=owner.account_id, name="erp-sync", read_only=True)
        )
        secrets.append(created.secret)
        record = await keys.until(lambda r: r.key == created.key.key_id.encode())
        issued = credentials_pb2.ApiKeyIssued.FromString(record.value)
        assert matches(created.secret, issued.secret_sha256) and issued.read_only
        listed = await stub.ListApiKeys(pb.ListApiKeysRequest(account_id=owner.account_id))
        assert [k.key_id for k in listed.keys] == [created.key.key_id]
        await stub.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=created.key.key_id))
        await keys.until(lambda r: r.key == created.key.key_id.encode() and r.value is None)
        assert [r.value is None for r in keys.keyed(created.key.key_id)] == [False, True]
        listed = await stub.ListApiKeys(pb.ListApiKeysRequest(account_id=owner.account_id))
        assert list(listed.keys) == []


async def test_share_link_tokens_verify_and_revocations_are_published(
    start_identity: StartIdentity, secrets: list[str]
) -> None:
    app = await start_identity()
    root = await platform_of(app, secrets)
    imei = unique_imei()
    secrets.append(imei)
    channel, stub = stub_of(app)
    async with channel, TopicWatch(REVOCATIONS_TOPIC) as revocations:
        owner = await create(stub, root, accounts_pb2.ACCOUNT_KIND_ENTERPRISE, secrets)
        device = await stub.RegisterDevice(
            pb.RegisterDeviceRequest(
                owner_account_id=owner.account_id, identifier=imei, protocol="gt06"
            )
        )
        expires = datetime.now(UTC) + timedelta(days=3)
        link = await stub.CreateShareLink(
            pb.CreateShareLinkRequest(
                device_id=device.device_id, account_id=owner.account_id, expires_time=ts(expires)
            )
        )
        secrets.append(link.token)
        jwks = await stub.GetJwks(pb.GetJwksRequest())
        claims = TokenVerifier(parse_jwks(jwks.jwks_json)).verify_share(link.token)
        assert (claims.link_id, claims.device_id) == (link.link_id, device.device_id)
        with pytest.raises(grpc.aio.AioRpcError) as too_long:
            await stub.CreateShareLink(
                pb.CreateShareLinkRequest(
                    device_id=device.device_id,
                    account_id=owner.account_id,
                    expires_time=ts(datetime.now(UTC) + timedelta(days=8)),
                )
            )
        assert too_long.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        await stub.RevokeShareLink(pb.RevokeShareLinkRequest(link_id=link.link_id))
        record = await revocations.until(lambda r: r.key == link.link_id.encode())
        event = credentials_pb2.CredentialRevoked.FromString(record.value)
        assert event.kind == credentials_pb2.CREDENTIAL_KIND_SHARE_LINK
        assert event.expires_time.seconds == int(expires.timestamp())


class FailingOnce:
    """The real publisher, except that the next publish is not acknowledged."""

    def __init__(self, real: Publisher) -> None:
        self.real = real
        self.fail = True

    async def publish(self, topic: str, event: object, **kwargs: object) -> Envelope:
        if self.fail:
            self.fail = False
            raise PublishError(f"{topic}: not acknowledged (test)")
        return await self.real.publish(topic, event, **kwargs)  # type: ignore[arg-type]

    async def publish_tombstone(self, topic: str, *, key: str) -> None:
        await self.real.publish_tombstone(topic, key=key)


async def test_a_failed_publish_answers_unavailable_and_the_state_is_republished(
    start_identity: StartIdentity, secrets: list[str]
) -> None:
    app = await start_identity(republish_interval_s=0.5, republish_grace_s=1.0)
    root = await platform_of(app, secrets)
    channel, stub = stub_of(app)
    async with channel, TopicWatch(ACCOUNTS_TOPIC) as accounts:
        app.identity.publisher = FailingOnce(app.identity.publisher)
        email = unique_email("unpublished")
        with pytest.raises(grpc.aio.AioRpcError) as unavailable:
            await create(stub, root, accounts_pb2.ACCOUNT_KIND_ENTERPRISE, secrets, email=email)
        assert unavailable.value.code() == grpc.StatusCode.UNAVAILABLE
        account_id = await app.identity.store.account_id_by_email(
            app.identity._email_hmac(email.lower())
        )
        assert account_id is not None  # stored, marked, not yet on Kafka
        record = await accounts.until(lambda r: r.key == account_id.encode(), within=20)
        assert accounts_pb2.AccountChanged.FromString(record.value).account_id == account_id
        for _ in range(100):  # the mark is cleared once the publish was acknowledged
            if ("account", account_id) not in [
                (k, i) for k, i, _ in await app.identity.store.unpublished()
            ]:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the unpublished mark was never cleared")


async def test_what_a_stopped_instance_left_unpublished_is_published_at_start(
    start_identity: StartIdentity, secrets: list[str]
) -> None:
    app = await start_identity(republish_interval_s=3600)
    root = await platform_of(app, secrets)
    # a change written and marked, then the process "died" before publishing
    await app.identity.store.mark_unpublished("account", root)
    async with TopicWatch(ACCOUNTS_TOPIC) as accounts:
        await start_identity(republish_interval_s=3600, republish_grace_s=0)
        await accounts.until(lambda r: r.key == root.encode(), within=20)


async def test_retention_is_set_published_and_resolved_with_inheritance(
    start_identity: StartIdentity, secrets: list[str]
) -> None:
    """What history, alarm and media read: an account's retention on identity.accounts.v1,
    a sub-account inheriting what its parent sets, bad values refused before anything."""
    secrets.append(PASSWORD)
    app = await start_identity()
    root = await platform_of(app, secrets)
    channel, stub = stub_of(app)
    accounts: CompactedTable[accounts_pb2.AccountChanged] = CompactedTable(
        KafkaSettings(),
        ACCOUNTS_TOPIC,
        accounts_pb2.AccountChanged.FromString,
        client_id="identity-test-retention",
    )
    stopping = asyncio.Event()
    following = asyncio.create_task(accounts.run(stopping))
    policy = AccountRetentionPolicy(DataKind.ALARMS, 365, lookup=accounts.get)
    try:
        async with channel:
            parent = await create(stub, root, accounts_pb2.ACCOUNT_KIND_DISTRIBUTOR, secrets)
            child = await create(
                stub, parent.account_id, accounts_pb2.ACCOUNT_KIND_ENTERPRISE, secrets
            )
            updated = await stub.UpdateAccount(
                pb.UpdateAccountRequest(
                    account_id=parent.account_id,
                    retention=accounts_pb2.AccountRetention(alarms_days=1, media_days=30),
                )
            )
            assert (updated.retention.alarms_days, updated.retention.media_days) == (1, 30)
            got = await stub.GetAccount(pb.GetAccountRequest(account_id=parent.account_id))
            assert got.retention == updated.retention
            await asyncio.wait_for(accounts.ready.wait(), 60)
            for _ in range(200):
                if policy.days(child.account_id) == 1:
                    break
                await asyncio.sleep(0.05)
            assert policy.days(child.account_id) == 1  # inherited from the parent
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.UpdateAccount(
                    pb.UpdateAccountRequest(
                        account_id=child.account_id,
                        retention=accounts_pb2.AccountRetention(alarms_days=7301),
                    )
                )
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "alarms_days is at most 7300" in (refused.value.details() or "")
            # a display-name change leaves the retention as it was
            renamed = await stub.UpdateAccount(
                pb.UpdateAccountRequest(account_id=parent.account_id, display_name="Renamed")
            )
            assert renamed.retention == updated.retention
    finally:
        stopping.set()
        await asyncio.wait_for(following, 30)
