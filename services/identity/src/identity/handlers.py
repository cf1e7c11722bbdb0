"""What each IdentityService call does, over the ports (store, publisher, passwords, clock).

Write, then publish, then answer. Every change is first marked *unpublished* in the store,
then written, then its entity's current state is published (acks=all) and the mark cleared.
If the publish fails the call answers UNAVAILABLE and the mark stays: :meth:`Identity.republish`
(run at start and periodically) publishes the current state of every marked entity. Events
are whole states on compacted topics, so publishing one twice is harmless.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from google.protobuf.message import Message

from identity.domain import rules, sessions
from identity.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    IdentityError,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    Unavailable,
)
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
from identity.messages import (
    account_changed,
    api_key_issued,
    device_registered,
    session_revoked,
    share_link_revoked,
)
from identity.ports import IdentityStore, PasswordHashing, Publisher
from trackstream_auth import SigningKey, TokenSigner, jwks_json, new_api_key
from trackstream_events.catalog import topic
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_events.retention import DataKind, check_days
from trackstream_kafka import PublishError

log = logging.getLogger(__name__)

ACCOUNTS_TOPIC = topic("identity.accounts.v1").name
REGISTRY_TOPIC = topic("identity.device-registry.v1").name
REVOCATIONS_TOPIC = topic("identity.revocations.v1").name
API_KEYS_TOPIC = topic("identity.api-keys.v1").name

#: entity kinds of the unpublished marks
ACCOUNT, DEVICE, SESSION, SHARE_LINK, API_KEY = (
    "account",
    "device",
    "session",
    "share_link",
    "api_key",
)
#: the one message for every failed login, whether or not the e-mail exists
BAD_CREDENTIALS = "wrong e-mail or password"
BAD_REFRESH = "refresh token not valid"
MAX_DEVICES_PER_CALL = 1000
DEFAULT_PAGE = 100
MAX_PAGE = 1000
DEFAULT_SHARE_LINK_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Lifetimes:
    access: timedelta = timedelta(minutes=15)
    refresh: timedelta = timedelta(days=30)
    share_link_max: timedelta = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    access_expires_time: datetime
    refresh_token: str
    refresh_expires_time: datetime
    account_id: str
    session_id: str


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    key: ApiKey
    #: the whole key, shown once
    secret: str


@dataclass(frozen=True, slots=True)
class IssuedShareLink:
    link: ShareLink
    token: str


class KeyedLocks:
    """One asyncio lock per entity id: read-modify-write of one entity never interleaves
    within this process (identity runs as one instance; see README)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key], self._locks[key]


def _micros(when: datetime) -> int:
    """Microseconds since the epoch: the unit of the unpublished marks."""
    return int(when.timestamp() * 1_000_000)


def _page_token(account_id: str) -> str:
    return base64.urlsafe_b64encode(account_id.encode()).decode()


def _after(token: str) -> str:
    try:
        return base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument("page_token is not one of ours") from None


class Identity:
    def __init__(
        self,
        *,
        store: IdentityStore,
        publisher: Publisher,
        passwords: PasswordHashing,
        signing_key: SigningKey,
        identifier_key: bytes,
        lookup_key: bytes,
        clock: Callable[[], datetime],
        lifetimes: Lifetimes | None = None,
        max_retention_days: int = 0,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.passwords = passwords
        self.signing_key = signing_key
        self.signer = TokenSigner(signing_key)
        self.identifier_key = identifier_key
        self.lookup_key = lookup_key
        self.clock = clock
        self.lifetimes = lifetimes or Lifetimes()
        #: the platform's maximum retention an account may set (0: only Cassandra's bound)
        self.max_retention_days = max_retention_days
        self.locks = KeyedLocks()

    # ------------------------------------------------------------------ publishing

    async def _publish(self, topic_name: str, event: Message | None, key: str) -> None:
        try:
            if event is None:
                await self.publisher.publish_tombstone(topic_name, key=key)
            else:
                await self.publisher.publish(topic_name, event, key=key, time_=self.clock())
        except PublishError as error:
            log.warning(
                "publish failed; the change is stored and will be republished",
                extra={"topic": topic_name, "key": key},
            )
            raise Unavailable("stored, but not yet published; it will be, retry reading") from error

    async def publish_state(self, kind: str, entity_id: str) -> None:
        """Publish the current state of one entity (what a mark names)."""
        now = self.clock()
        if kind == ACCOUNT:
            account = await self.store.get_account(entity_id)
            if account is not None:
                await self._publish(ACCOUNTS_TOPIC, account_changed(account, now=now), entity_id)
        elif kind == DEVICE:
            device = await self.store.get_device(entity_id)
            if device is not None:
                await self._publish(REGISTRY_TOPIC, device_registered(device), entity_id)
        elif kind == SESSION:
            session = await self.store.get_session(entity_id)
            if session is not None and session.revoked:
                await self._publish(REVOCATIONS_TOPIC, session_revoked(session, now=now), entity_id)
        elif kind == SHARE_LINK:
            link = await self.store.get_share_link(entity_id)
            if link is not None and link.revoked:
                await self._publish(REVOCATIONS_TOPIC, share_link_revoked(link, now=now), entity_id)
        elif kind == API_KEY:
            key = await self.store.get_api_key(entity_id)
            if key is None or key.revoked:
                await self._publish(API_KEYS_TOPIC, None, entity_id)
            else:
                await self._publish(API_KEYS_TOPIC, api_key_issued(key), entity_id)
        else:
            log.error("unknown kind of unpublished entity", extra={"kind": kind})

    @asynccontextmanager
    async def _changing(self, kind: str, entity_id: str) -> AsyncIterator[None]:
        """Mark, let the caller write, then publish the state and clear the mark."""
        mark = await self.store.mark_unpublished(kind, entity_id)
        try:
            yield
        except IdentityError:
            # refused before anything changed (a taken e-mail, a bad recipient): nothing to publish
            await self.store.clear_unpublished(kind, entity_id, mark)
            raise
        await self.publish_state(kind, entity_id)
        await self.store.clear_unpublished(kind, entity_id, mark)

    async def republish(self, *, older_than: timedelta = timedelta(0)) -> int:
        """Publish every entity marked unpublished more than ``older_than`` ago; returns how
        many were published. Younger marks may belong to a call still in flight: publishing
        (and clearing) them before that call's write could lose the write's event. Stops at
        the first failure (Kafka is still away): the rest wait for the next pass."""
        count = 0
        cutoff = _micros(self.clock() - older_than)
        for kind, entity_id, mark in await self.store.unpublished():
            if mark > cutoff:
                continue
            await self.publish_state(kind, entity_id)
            await self.store.clear_unpublished(kind, entity_id, mark)
            count += 1
        if count:
            log.info("republished unpublished changes", extra={"count": count})
        return count

    # ------------------------------------------------------------------ accounts

    def _email_hmac(self, normalised_email: str) -> bytes:
        return hmac.new(self.lookup_key, normalised_email.encode(), hashlib.sha256).digest()

    async def _account(self, account_id: str, *, field: str = "account_id") -> Account:
        if not account_id:
            raise InvalidArgument(f"{field} is required")
        account = await self.store.get_account(account_id)
        if account is None:
            raise NotFound(f"{field}: no such account")
        return account

    async def _claim_email(self, email_hmac: bytes, account_id: str) -> None:
        holder = await self.store.claim_email(email_hmac, account_id)
        if holder is None:
            return
        # a claim whose account never got written (a crash in between) is free to take
        if await self.store.get_account(holder) is None and await self.store.take_over_email(
            email_hmac, holder, account_id
        ):
            return
        raise AlreadyExists("an account with this e-mail exists")

    async def create_account(
        self,
        *,
        parent_account_id: str,
        kind: int,
        role: int,
        email: str,
        phone: str,
        display_name: str,
        password: str,
    ) -> Account:
        account_kind = rules.validate_kind(kind)
        account_role = rules.validate_role(role)
        normalised = rules.validate_email(email)
        phone = rules.validate_phone(phone)
        display_name = rules.validate_display_name(display_name)
        rules.validate_password(password)
        if account_kind is AccountKind.PLATFORM:
            raise InvalidArgument("the platform account is created only by bootstrap")
        parent = await self._account(parent_account_id, field="parent_account_id")
        rules.check_child(parent, account_kind)
        return await self._create(
            parent=parent,
            kind=account_kind,
            role=account_role,
            email=normalised,
            phone=phone,
            display_name=display_name,
            password=password,
        )

    async def _create(
        self,
        *,
        parent: Account | None,
        kind: AccountKind,
        role: AccountRole,
        email: str,
        phone: str,
        display_name: str,
        password: str,
        account_id: str | None = None,
    ) -> Account:
        password_hash = await self.passwords.hash(password)
        account = Account(
            account_id=account_id or str(uuid.uuid4()),
            parent_account_id=parent.account_id if parent else "",
            ancestor_account_ids=rules.ancestors_of(parent) if parent else (),
            kind=kind,
            role=role,
            email=email,
            phone=phone,
            display_name=display_name,
            password_hash=password_hash,
            disabled=False,
            created_time=self.clock(),
        )
        async with self._changing(ACCOUNT, account.account_id):
            await self._claim_email(self._email_hmac(email), account.account_id)
            await self.store.save_account(account)
            if parent is not None:
                await self.store.add_child(parent.account_id, account.account_id)
        log.info("account created", extra={"account_id": account.account_id, "kind": kind.name})
        return account

    async def bootstrap_platform(
        self, *, email: str, password: str, display_name: str
    ) -> tuple[Account, bool]:
        """Create the single PLATFORM account unless one exists; (account, created)."""
        existing = await self.store.platform_account_id()
        if existing is not None:
            account = await self.store.get_account(existing)
            if account is not None:
                return account, False
        normalised = rules.validate_email(email)
        rules.validate_password(password)
        display_name = rules.validate_display_name(display_name)
        account_id = existing or str(uuid.uuid4())
        if existing is None:
            holder = await self.store.claim_platform(account_id)
            if holder is not None:
                account_id = holder
                account = await self.store.get_account(holder)
                if account is not None:
                    return account, False
        account = await self._create(
            parent=None,
            kind=AccountKind.PLATFORM,
            role=AccountRole.ADMIN,
            email=normalised,
            phone="",
            display_name=display_name,
            password=password,
            account_id=account_id,
        )
        return account, True

    async def get_account(self, account_id: str) -> Account:
        return await self._account(account_id)

    async def list_sub_accounts(
        self, *, parent_account_id: str, page_size: int, page_token: str
    ) -> tuple[list[Account], str]:
        await self._account(parent_account_id, field="parent_account_id")
        size = min(page_size or DEFAULT_PAGE, MAX_PAGE)
        after = _after(page_token) if page_token else ""
        ids = await self.store.children(parent_account_id, after=after, limit=size)
        found = await asyncio.gather(*(self.store.get_account(i) for i in ids))
        accounts = [a for a in found if a is not None]
        next_token = _page_token(ids[-1]) if len(ids) == size else ""
        return accounts, next_token

    async def update_account(
        self,
        *,
        account_id: str,
        display_name: str | None = None,
        phone: str | None = None,
        disabled: bool | None = None,
        role: int | None = None,
        password: str | None = None,
        retention: Retention | None = None,
    ) -> Account:
        changes: dict[str, object] = {}
        if retention is not None:
            changes["retention"] = self._checked_retention(retention)
        if display_name is not None:
            changes["display_name"] = rules.validate_display_name(display_name)
        if phone is not None:
            changes["phone"] = rules.validate_phone(phone)
        if role is not None:
            changes["role"] = rules.validate_role(role)
        if password is not None:
            changes["password_hash"] = await self.passwords.hash(rules.validate_password(password))
        async with self.locks.hold(account_id):
            account = await self._account(account_id)
            if disabled is not None:
                if disabled and account.kind is AccountKind.PLATFORM:
                    raise FailedPrecondition("the platform account cannot be disabled")
                changes["disabled"] = disabled
            updated = replace(account, **changes)  # type: ignore[arg-type]
            async with self._changing(ACCOUNT, account_id):
                await self.store.save_account(updated)
        if password is not None or (disabled and not account.disabled):
            await self._end_sessions_of(account_id)
        return updated

    def _checked_retention(self, retention: Retention) -> Retention:
        for kind in DataKind:
            name = f"{kind.value}_days"
            try:
                check_days(getattr(retention, name), maximum=self.max_retention_days, field=name)
            except ValueError as error:
                raise InvalidArgument(str(error)) from None
        return retention

    async def _end_sessions_of(self, account_id: str) -> None:
        """A new password or a disabled account: every live session ends now (sessions
        already revoked, or whose refresh and access tokens have all expired, are left)."""
        now = self.clock()
        for session_id in await self.store.sessions_of(account_id):
            session = await self.store.get_session(session_id)
            if session is None or session.revoked:
                continue
            if session.expires_time <= now and session.access_expires_time <= now:
                continue
            await self._revoke_session(session_id)

    # ------------------------------------------------------------------ tokens

    async def issue_token(self, *, email: str, password: str) -> TokenPair:
        normalised = rules.normalise_email(email)
        account_id = await self.store.account_id_by_email(self._email_hmac(normalised))
        account = await self.store.get_account(account_id) if account_id else None
        # the same work and the same answer whether or not the e-mail exists
        ok = await self.passwords.verify(account.password_hash if account else None, password)
        if account is None or not ok:
            raise Unauthenticated(BAD_CREDENTIALS)
        if account.disabled:
            raise FailedPrecondition("the account is disabled")
        if self.passwords.needs_rehash(account.password_hash):
            async with self.locks.hold(account.account_id):
                fresh = await self.store.get_account(account.account_id)
                if fresh is not None and fresh.password_hash == account.password_hash:
                    rehashed = replace(fresh, password_hash=await self.passwords.hash(password))
                    await self.store.save_account(rehashed)  # no event: hashes are not published
        now = self.clock()
        session_id = str(uuid.uuid4())
        access_token, claims = self.signer.access_token(
            account.account_id, session_id, now=now, lifetime=self.lifetimes.access
        )
        refresh_token = sessions.new_refresh_token()
        session = sessions.open_session(
            session_id=session_id,
            account_id=account.account_id,
            refresh_token=refresh_token,
            now=now,
            refresh_lifetime=self.lifetimes.refresh,
            access_expires_time=claims.expires_at,
        )
        await self.store.save_session(session)
        log.info(
            "session opened", extra={"account_id": account.account_id, "session_id": session_id}
        )
        return TokenPair(
            access_token=access_token,
            access_expires_time=claims.expires_at,
            refresh_token=refresh_token,
            refresh_expires_time=session.expires_time,
            account_id=account.account_id,
            session_id=session_id,
        )

    async def refresh_token(self, *, refresh_token: str) -> TokenPair:
        if not refresh_token:
            raise InvalidArgument("refresh_token is required")
        digest = sessions.refresh_digest(refresh_token)
        session_id = await self.store.session_id_by_refresh(digest)
        session = await self.store.get_session(session_id) if session_id else None
        if session is None:
            raise Unauthenticated(BAD_REFRESH)
        async with self.locks.hold(session.session_id):
            session = await self.store.get_session(session.session_id)
            assert session is not None
            now = self.clock()
            verdict = sessions.judge_refresh(session, digest, now=now)
            if verdict is sessions.RefreshVerdict.REUSED:
                log.warning(
                    "rotated refresh token presented again: session revoked",
                    extra={"session_id": session.session_id},
                )
                await self._revoke_session(session.session_id)
                raise Unauthenticated(BAD_REFRESH)
            if verdict is not sessions.RefreshVerdict.ROTATE:
                raise Unauthenticated(BAD_REFRESH)
            account = await self.store.get_account(session.account_id)
            if account is None or account.disabled:
                await self._revoke_session(session.session_id)
                raise FailedPrecondition("the account is disabled")
            access_token, claims = self.signer.access_token(
                session.account_id, session.session_id, now=now, lifetime=self.lifetimes.access
            )
            new_refresh = sessions.new_refresh_token()
            new = sessions.rotated(
                session,
                refresh_token=new_refresh,
                now=now,
                refresh_lifetime=self.lifetimes.refresh,
                access_expires_time=claims.expires_at,
            )
            if not await self.store.rotate_session(session, new):
                # another refresh with the same token won the race: that is reuse too
                await self._revoke_session(session.session_id)
                raise Unauthenticated(BAD_REFRESH)
        return TokenPair(
            access_token=access_token,
            access_expires_time=claims.expires_at,
            refresh_token=new_refresh,
            refresh_expires_time=new.expires_time,
            account_id=session.account_id,
            session_id=session.session_id,
        )

    async def _revoke_session(self, session_id: str) -> Session:
        async with self._changing(SESSION, session_id):
            await self.store.revoke_session(session_id)
        session = await self.store.get_session(session_id)
        assert session is not None
        log.info("session revoked", extra={"session_id": session_id})
        return session

    async def revoke_token(self, *, session_id: str, refresh_token: str) -> Session:
        if not session_id and not refresh_token:
            raise InvalidArgument("session_id or refresh_token is required")
        if not session_id:
            found = await self.store.session_id_by_refresh(sessions.refresh_digest(refresh_token))
            if found is None:
                raise NotFound("no session has this refresh token")
            session_id = found
        if await self.store.get_session(session_id) is None:
            raise NotFound("no such session")
        return await self._revoke_session(session_id)

    def jwks(self) -> str:
        return jwks_json([self.signing_key])

    # ------------------------------------------------------------------ API keys

    async def create_api_key(
        self, *, account_id: str, name: str, expires_time: datetime | None, read_only: bool
    ) -> IssuedApiKey:
        name = rules.validate_api_key_name(name)
        now = self.clock()
        rules.check_future(expires_time, field="expires_time", now=now)
        account = await self._account(account_id)
        if account.disabled:
            raise FailedPrecondition("the account is disabled")
        issued = new_api_key()
        key = ApiKey(
            key_id=issued.key_id,
            account_id=account_id,
            name=name,
            secret_sha256=issued.secret_sha256,
            created_time=now,
            expires_time=expires_time,
            read_only=read_only,
            revoked=False,
        )
        async with self._changing(API_KEY, key.key_id):
            await self.store.save_api_key(key)
        log.info("API key created", extra={"account_id": account_id, "key_id": key.key_id})
        return IssuedApiKey(key=key, secret=issued.secret)

    async def list_api_keys(self, *, account_id: str) -> list[ApiKey]:
        await self._account(account_id)
        return [k for k in await self.store.api_keys_of(account_id) if not k.revoked]

    async def revoke_api_key(self, *, key_id: str) -> None:
        if not key_id:
            raise InvalidArgument("key_id is required")
        key = await self.store.get_api_key(key_id)
        if key is None:
            raise NotFound("no such API key")
        async with self._changing(API_KEY, key_id):
            await self.store.save_api_key(replace(key, revoked=True))
        log.info("API key revoked", extra={"key_id": key_id})

    # ------------------------------------------------------------------ devices

    async def _device(self, device_id: str) -> Device:
        if not device_id:
            raise InvalidArgument("device_id is required")
        device = await self.store.get_device(device_id)
        if device is None:
            raise NotFound("device_id: no such device")
        return device

    async def register_device(
        self,
        *,
        owner_account_id: str,
        identifier: str,
        protocol: str,
        model: str,
        name: str,
        device_timezone: str,
        expiry_time: datetime | None,
        location_consent: LocationConsent = LocationConsent.UNRECORDED,
        worn_by_minor: bool = False,
        guardian_consent: bool = False,
    ) -> Device:
        protocol = protocol.strip().lower()
        identifier = rules.validate_identifier(protocol, identifier)
        zone = rules.validate_timezone(device_timezone)
        model = rules.validate_model(model)
        name = rules.validate_device_name(name)
        now = self.clock()
        rules.check_future(expiry_time, field="expiry_time", now=now)
        owner = await self._account(owner_account_id, field="owner_account_id")
        if owner.disabled:
            raise FailedPrecondition("the owner account is disabled")
        device = Device(
            device_id=str(uuid.uuid4()),
            identifier=identifier,
            identifier_hmac=identifier_hmac(self.identifier_key, identifier),
            protocol=protocol,
            model=model,
            name=name,
            owner_account_id=owner.account_id,
            device_timezone=zone,
            disabled=False,
            expiry_time=expiry_time,
            registered_time=now,
            location_consent=location_consent,
            worn_by_minor=worn_by_minor,
            guardian_consent=guardian_consent,
        )
        async with self._changing(DEVICE, device.device_id):
            holder = await self.store.claim_identifier(device.identifier_hmac, device.device_id)
            if holder is not None and not (
                await self.store.get_device(holder) is None
                and await self.store.take_over_identifier(
                    device.identifier_hmac, holder, device.device_id
                )
            ):
                raise AlreadyExists("a device with this identifier is registered")
            await self.store.save_device(device)
        log.info("device registered", extra={"device_id": device.device_id, "protocol": protocol})
        return device

    async def get_devices(self, *, device_ids: Sequence[str]) -> list[Device]:
        if len(device_ids) > MAX_DEVICES_PER_CALL:
            raise InvalidArgument(f"at most {MAX_DEVICES_PER_CALL} device_ids")
        return await self.store.get_devices([d for d in device_ids if d])

    async def _change_device(self, device_id: str, change: Callable[[Device], Device]) -> Device:
        async with self.locks.hold(device_id):
            updated = change(await self._device(device_id))
            async with self._changing(DEVICE, device_id):
                await self.store.save_device(updated)
        return updated

    async def update_device(
        self,
        *,
        device_id: str,
        name: str | None = None,
        model: str | None = None,
        device_timezone: str | None = None,
        disabled: bool | None = None,
        expiry_time: datetime | None = None,
        clear_expiry: bool = False,
        location_consent: LocationConsent = LocationConsent.UNRECORDED,
        worn_by_minor: bool | None = None,
        guardian_consent: bool | None = None,
    ) -> Device:
        changes: dict[str, object] = {}
        if location_consent is not LocationConsent.UNRECORDED:  # a recorded answer stays one
            changes["location_consent"] = location_consent
        if worn_by_minor is not None:
            changes["worn_by_minor"] = worn_by_minor
        if guardian_consent is not None:
            changes["guardian_consent"] = guardian_consent
        if name is not None:
            changes["name"] = rules.validate_device_name(name)
        if model is not None:
            changes["model"] = rules.validate_model(model)
        if device_timezone is not None:
            changes["device_timezone"] = rules.validate_timezone(device_timezone)
        if disabled is not None:
            changes["disabled"] = disabled
        if clear_expiry and expiry_time is not None:
            raise InvalidArgument("expiry_time and clear_expiry exclude each other")
        if clear_expiry:
            changes["expiry_time"] = None
        elif expiry_time is not None:
            changes["expiry_time"] = expiry_time  # a past expiry ends the term now
        return await self._change_device(device_id, lambda d: replace(d, **changes))  # type: ignore[arg-type]

    async def _recipient(self, account_id: str, *, field: str) -> Account:
        return await self._account(account_id, field=field)

    async def transfer_device(self, *, device_id: str, new_owner_account_id: str) -> Device:
        target = await self._recipient(new_owner_account_id, field="new_owner_account_id")

        def transfer(device: Device) -> Device:
            rules.check_recipient(
                target, owner_account_id=device.owner_account_id, action="transfer"
            )
            # shares were the previous owner's decisions: they end with the transfer
            return replace(device, owner_account_id=target.account_id, shares=())

        device = await self._change_device(device_id, transfer)
        log.info(
            "device transferred", extra={"device_id": device_id, "account_id": target.account_id}
        )
        return device

    async def share_device(
        self, *, device_id: str, account_id: str, until_time: datetime | None
    ) -> Device:
        rules.check_future(until_time, field="until_time", now=self.clock())
        target = await self._recipient(account_id, field="account_id")

        def share(device: Device) -> Device:
            rules.check_recipient(target, owner_account_id=device.owner_account_id, action="share")
            kept = tuple(s for s in device.shares if s.account_id != account_id)
            return replace(device, shares=(*kept, DeviceShare(account_id, until_time)))

        return await self._change_device(device_id, share)

    async def unshare_device(self, *, device_id: str, account_id: str) -> Device:
        if not account_id:
            raise InvalidArgument("account_id is required")
        return await self._change_device(
            device_id,
            lambda d: replace(d, shares=tuple(s for s in d.shares if s.account_id != account_id)),
        )

    # ------------------------------------------------------------------ share links

    async def create_share_link(
        self, *, device_id: str, account_id: str, expires_time: datetime | None
    ) -> IssuedShareLink:
        now = self.clock()
        expires = expires_time or now + min(
            DEFAULT_SHARE_LINK_LIFETIME, self.lifetimes.share_link_max
        )
        rules.check_share_link_expiry(expires, now=now, max_ahead=self.lifetimes.share_link_max)
        await self._device(device_id)
        account = await self._account(account_id)
        if account.disabled:
            raise FailedPrecondition("the account is disabled")
        link = ShareLink(
            link_id=str(uuid.uuid4()),
            device_id=device_id,
            account_id=account_id,
            created_time=now,
            expires_time=expires,
            revoked=False,
        )
        await self.store.save_share_link(link)
        token = self.signer.share_token(link.link_id, device_id, now=now, expires_at=expires)
        log.info("share link created", extra={"device_id": device_id, "link_id": link.link_id})
        return IssuedShareLink(link=link, token=token)

    async def revoke_share_link(self, *, link_id: str, device_id: str = "") -> ShareLink:
        """``device_id``, when given, must be the link's (else NOT_FOUND, as for no link)."""
        if not link_id:
            raise InvalidArgument("link_id is required")
        link = await self.store.get_share_link(link_id)
        if link is None or (device_id and link.device_id != device_id):
            raise NotFound("no such share link")
        revoked_link = replace(link, revoked=True)
        async with self._changing(SHARE_LINK, link_id):
            await self.store.save_share_link(revoked_link)
        log.info("share link revoked", extra={"link_id": link_id})
        return revoked_link
