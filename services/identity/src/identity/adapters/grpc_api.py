"""The IdentityService gRPC API (grpc.aio): requests to handler calls, domain errors to status
codes. Nothing here logs a request's content (e-mails, passwords, identifiers, tokens)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import grpc
from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from identity.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    IdentityError,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from identity.domain.model import LocationConsent, Retention
from identity.handlers import Identity, TokenPair
from identity.messages import account_message, api_key_message, device_message
from trackstream.identity.v1 import identity_service_pb2 as pb
from trackstream.identity.v1 import identity_service_pb2_grpc as pb_grpc
from trackstream_events.fields import present
from trackstream_events.timestamps import to_timestamp

log = logging.getLogger(__name__)
SERVICE = "trackstream.identity.v1.IdentityService"
#: the store is down or unreachable: the client gets UNAVAILABLE and retries
STORE_ERRORS = (DriverException, NoHostAvailable)
_CODES: dict[type[IdentityError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
}
T = TypeVar("T")


def _time(ts: Timestamp, present: bool, *, field: str) -> datetime | None:
    if not present:
        return None
    try:
        return ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument(f"{field} is not a valid time (years 1-9999)") from None


def _consent(value: int) -> LocationConsent:
    try:
        return LocationConsent(value)
    except ValueError:
        raise InvalidArgument(f"location_consent {value} is not a known answer") from None


def _pair(pair: TokenPair) -> pb.TokenPair:
    return pb.TokenPair(
        access_token=pair.access_token,
        access_expires_time=to_timestamp(pair.access_expires_time),
        refresh_token=pair.refresh_token,
        refresh_expires_time=to_timestamp(pair.refresh_expires_time),
        account_id=pair.account_id,
        session_id=pair.session_id,
    )


async def _abort(context: Any, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("abort returned")  # pragma: no cover


async def answer(context: Any, call: Callable[[], Awaitable[T]]) -> T:
    """Run a handler call; a refusal or an outage becomes the matching status."""
    try:
        return await call()
    except IdentityError as error:
        code = _CODES.get(type(error), grpc.StatusCode.INTERNAL)
        await _abort(context, code, str(error))
    except STORE_ERRORS:
        log.warning("identity store unavailable", exc_info=True)
        await _abort(context, grpc.StatusCode.UNAVAILABLE, "identity store unavailable, retry")


class IdentityApi(pb_grpc.IdentityServiceServicer):
    def __init__(self, identity: Identity) -> None:
        self._identity = identity

    # accounts
    async def CreateAccount(self, request: pb.CreateAccountRequest, context: Any) -> pb.Account:
        account = await answer(
            context,
            lambda: self._identity.create_account(
                parent_account_id=request.parent_account_id,
                kind=request.kind,
                role=request.role,
                email=request.email,
                phone=request.phone,
                display_name=request.display_name,
                password=request.password,
            ),
        )
        return account_message(account)

    async def GetAccount(self, request: pb.GetAccountRequest, context: Any) -> pb.Account:
        account = await answer(context, lambda: self._identity.get_account(request.account_id))
        return account_message(account)

    async def ListSubAccounts(
        self, request: pb.ListSubAccountsRequest, context: Any
    ) -> pb.ListSubAccountsResponse:
        accounts, token = await answer(
            context,
            lambda: self._identity.list_sub_accounts(
                parent_account_id=request.parent_account_id,
                page_size=request.page_size,
                page_token=request.page_token,
            ),
        )
        return pb.ListSubAccountsResponse(
            accounts=[account_message(a) for a in accounts], next_page_token=token
        )

    async def UpdateAccount(self, request: pb.UpdateAccountRequest, context: Any) -> pb.Account:
        r = request
        account = await answer(
            context,
            lambda: self._identity.update_account(
                account_id=r.account_id,
                display_name=present(r, "display_name"),
                phone=present(r, "phone"),
                disabled=present(r, "disabled"),
                role=present(r, "role"),
                password=present(r, "password"),
                retention=(
                    Retention(
                        positions_days=r.retention.positions_days,
                        alarms_days=r.retention.alarms_days,
                        media_days=r.retention.media_days,
                    )
                    if r.HasField("retention")
                    else None
                ),
            ),
        )
        return account_message(account)

    # tokens
    async def IssueToken(self, request: pb.IssueTokenRequest, context: Any) -> pb.TokenPair:
        pair = await answer(
            context,
            lambda: self._identity.issue_token(email=request.email, password=request.password),
        )
        return _pair(pair)

    async def RefreshToken(self, request: pb.RefreshTokenRequest, context: Any) -> pb.TokenPair:
        pair = await answer(
            context, lambda: self._identity.refresh_token(refresh_token=request.refresh_token)
        )
        return _pair(pair)

    async def RevokeToken(
        self, request: pb.RevokeTokenRequest, context: Any
    ) -> pb.RevokeTokenResponse:
        session = await answer(
            context,
            lambda: self._identity.revoke_token(
                session_id=request.session_id, refresh_token=request.refresh_token
            ),
        )
        return pb.RevokeTokenResponse(
            credential_id=session.session_id,
            expires_time=to_timestamp(session.access_expires_time),
        )

    async def GetJwks(self, request: pb.GetJwksRequest, context: Any) -> pb.GetJwksResponse:
        return pb.GetJwksResponse(jwks_json=self._identity.jwks())

    # API keys
    async def CreateApiKey(
        self, request: pb.CreateApiKeyRequest, context: Any
    ) -> pb.CreateApiKeyResponse:
        issued = await answer(
            context,
            lambda: self._identity.create_api_key(
                account_id=request.account_id,
                name=request.name,
                expires_time=_time(
                    request.expires_time, request.HasField("expires_time"), field="expires_time"
                ),
                read_only=request.read_only,
            ),
        )
        return pb.CreateApiKeyResponse(key=api_key_message(issued.key), secret=issued.secret)

    async def ListApiKeys(
        self, request: pb.ListApiKeysRequest, context: Any
    ) -> pb.ListApiKeysResponse:
        keys = await answer(
            context, lambda: self._identity.list_api_keys(account_id=request.account_id)
        )
        return pb.ListApiKeysResponse(keys=[api_key_message(k) for k in keys])

    async def RevokeApiKey(
        self, request: pb.RevokeApiKeyRequest, context: Any
    ) -> pb.RevokeApiKeyResponse:
        await answer(context, lambda: self._identity.revoke_api_key(key_id=request.key_id))
        return pb.RevokeApiKeyResponse()

    # devices
    async def RegisterDevice(self, request: pb.RegisterDeviceRequest, context: Any) -> pb.Device:
        device = await answer(
            context,
            lambda: self._identity.register_device(
                owner_account_id=request.owner_account_id,
                identifier=request.identifier,
                protocol=request.protocol,
                model=request.model,
                name=request.name,
                device_timezone=request.device_timezone,
                expiry_time=_time(
                    request.expiry_time, request.HasField("expiry_time"), field="expiry_time"
                ),
                location_consent=_consent(request.location_consent),
                worn_by_minor=request.worn_by_minor,
                guardian_consent=request.guardian_consent,
            ),
        )
        return device_message(device)

    async def GetDevices(
        self, request: pb.GetDevicesRequest, context: Any
    ) -> pb.GetDevicesResponse:
        devices = await answer(
            context, lambda: self._identity.get_devices(device_ids=list(request.device_ids))
        )
        return pb.GetDevicesResponse(devices=[device_message(d) for d in devices])

    async def UpdateDevice(self, request: pb.UpdateDeviceRequest, context: Any) -> pb.Device:
        r = request
        device = await answer(
            context,
            lambda: self._identity.update_device(
                device_id=r.device_id,
                name=present(r, "name"),
                model=present(r, "model"),
                device_timezone=present(r, "device_timezone"),
                disabled=present(r, "disabled"),
                expiry_time=_time(r.expiry_time, r.HasField("expiry_time"), field="expiry_time"),
                clear_expiry=r.clear_expiry,
                location_consent=_consent(r.location_consent),
                worn_by_minor=present(r, "worn_by_minor"),
                guardian_consent=present(r, "guardian_consent"),
            ),
        )
        return device_message(device)

    async def TransferDevice(self, request: pb.TransferDeviceRequest, context: Any) -> pb.Device:
        device = await answer(
            context,
            lambda: self._identity.transfer_device(
                device_id=request.device_id, new_owner_account_id=request.new_owner_account_id
            ),
        )
        return device_message(device)

    async def ShareDevice(self, request: pb.ShareDeviceRequest, context: Any) -> pb.Device:
        device = await answer(
            context,
            lambda: self._identity.share_device(
                device_id=request.device_id,
                account_id=request.account_id,
                until_time=_time(
                    request.until_time, request.HasField("until_time"), field="until_time"
                ),
            ),
        )
        return device_message(device)

    async def UnshareDevice(self, request: pb.UnshareDeviceRequest, context: Any) -> pb.Device:
        device = await answer(
            context,
            lambda: self._identity.unshare_device(
                device_id=request.device_id, account_id=request.account_id
            ),
        )
        return device_message(device)

    # share links
    async def CreateShareLink(
        self, request: pb.CreateShareLinkRequest, context: Any
    ) -> pb.ShareLink:
        issued = await answer(
            context,
            lambda: self._identity.create_share_link(
                device_id=request.device_id,
                account_id=request.account_id,
                expires_time=_time(
                    request.expires_time, request.HasField("expires_time"), field="expires_time"
                ),
            ),
        )
        return pb.ShareLink(
            link_id=issued.link.link_id,
            device_id=issued.link.device_id,
            token=issued.token,
            expires_time=to_timestamp(issued.link.expires_time),
        )

    async def RevokeShareLink(
        self, request: pb.RevokeShareLinkRequest, context: Any
    ) -> pb.RevokeShareLinkResponse:
        link = await answer(
            context,
            lambda: self._identity.revoke_share_link(
                link_id=request.link_id, device_id=request.device_id
            ),
        )
        return pb.RevokeShareLinkResponse(expires_time=to_timestamp(link.expires_time))


async def serve_grpc(identity: Identity, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    pb_grpc.add_IdentityServiceServicer_to_server(IdentityApi(identity), server)
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    await checker.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    return server, bound
