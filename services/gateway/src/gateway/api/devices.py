"""Devices: list, register, detail, update, transfer, shares and share links, last positions,
commands."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from gateway.adapters.identity_records import device_of
from gateway.api.problems import Problem, not_found
from gateway.api.schemas import (
    CONSENT_VALUES,
    CommandCreate,
    DeviceCreate,
    DeviceUpdate,
    ShareCreate,
    ShareLinkCreate,
    Transfer,
    device_json,
)
from gateway.api.security import CallerDep, gateway_of
from gateway.context import GatewayContext
from gateway.domain import access, render
from gateway.domain.access import Need
from gateway.domain.commands import CommandState, check_command
from gateway.domain.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_token,
    encode_token,
    page_after,
)
from trackstream.history.v1 import history_service_pb2 as hpb
from trackstream.identity.v1 import identity_service_pb2 as pb
from trackstream.tracking.v1 import command_pb2
from trackstream_events.timestamps import to_timestamp

router = APIRouter(prefix="/v1")
COMMANDS_TOPIC = "tracking.commands.v1"
MAX_LINK_LIFETIME = timedelta(days=7)
MAX_LAST_POSITIONS = 100
#: the link id clients see: "<device id>.<identity's link id>", so revoking names the device
LINK_SEPARATOR = "."


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def device_details(context: GatewayContext, device_id: str) -> pb.Device:
    response = await context.identity.GetDevices(
        pb.GetDevicesRequest(device_ids=[device_id]), timeout=context.settings.backend_timeout_s
    )
    if not response.devices:
        raise not_found("device")
    device: pb.Device = response.devices[0]
    return device


def remember(context: GatewayContext, device: pb.Device) -> dict[str, Any]:
    """Write-through: this instance sees its own change at once."""
    context.directory.put_device(device_of(device))
    return device_json(device)


@router.get("/devices", tags=["devices"])
async def list_devices(
    *,
    request: Request,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str, Query(max_length=512)] = "",
    caller: CallerDep,
) -> dict[str, Any]:
    """The devices the caller sees (own, its sub-accounts', shared with it), by id."""
    context = gateway_of(request)
    ids = access.visible_devices(context.directory, caller.account_id, context.clock())
    after = decode_token("devices", page_token) if page_token else None
    page, last = page_after(ids, after, page_size)
    devices: list[dict[str, Any]] = []
    if page:
        response = await context.identity.GetDevices(
            pb.GetDevicesRequest(device_ids=page), timeout=context.settings.backend_timeout_s
        )
        devices = [device_json(d) for d in response.devices]
    return {
        "devices": devices,
        "next_page_token": encode_token("devices", last) if last else None,
    }


@router.post("/devices", tags=["devices"], status_code=201)
async def register_device(
    *, body: DeviceCreate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    context = gateway_of(request)
    owner = body.owner_account_id or caller.account_id
    access.check_account(context.directory, caller, owner, Need.MANAGE)
    message = pb.RegisterDeviceRequest(
        owner_account_id=owner,
        identifier=body.identifier,
        protocol=body.protocol,
        model=body.model,
        name=body.name,
        device_timezone=body.device_timezone,
        worn_by_minor=body.worn_by_minor,
        guardian_consent=body.guardian_consent,
    )
    if body.location_consent is not None:
        message.location_consent = CONSENT_VALUES[body.location_consent]
    if body.expiry_time is not None:
        message.expiry_time.CopyFrom(to_timestamp(aware(body.expiry_time)))
    device = await context.identity.RegisterDevice(
        message, timeout=context.settings.backend_timeout_s
    )
    return remember(context, device)


@router.get("/devices/{device_id}", tags=["devices"])
async def get_device(*, device_id: str, request: Request, caller: CallerDep) -> dict[str, Any]:
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.READ, context.clock())
    return device_json(await device_details(context, device_id))


@router.patch("/devices/{device_id}", tags=["devices"])
async def update_device(
    *, device_id: str, body: DeviceUpdate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.MANAGE, context.clock())
    message = pb.UpdateDeviceRequest(device_id=device_id, clear_expiry=body.clear_expiry)
    if body.name is not None:
        message.name = body.name
    if body.model is not None:
        message.model = body.model
    if body.device_timezone is not None:
        message.device_timezone = body.device_timezone
    if body.disabled is not None:
        message.disabled = body.disabled
    if body.expiry_time is not None:
        message.expiry_time.CopyFrom(to_timestamp(aware(body.expiry_time)))
    if body.location_consent is not None:
        message.location_consent = CONSENT_VALUES[body.location_consent]
    if body.worn_by_minor is not None:
        message.worn_by_minor = body.worn_by_minor
    if body.guardian_consent is not None:
        message.guardian_consent = body.guardian_consent
    device = await context.identity.UpdateDevice(
        message, timeout=context.settings.backend_timeout_s
    )
    return remember(context, device)


@router.post("/devices/{device_id}/transfer", tags=["devices"])
async def transfer_device(
    *, device_id: str, body: Transfer, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """Give the device to another account of the caller's subtree."""
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.MANAGE, context.clock())
    access.check_account(context.directory, caller, body.new_owner_account_id, Need.MANAGE)
    device = await context.identity.TransferDevice(
        pb.TransferDeviceRequest(
            device_id=device_id, new_owner_account_id=body.new_owner_account_id
        ),
        timeout=context.settings.backend_timeout_s,
    )
    return remember(context, device)


@router.post("/devices/{device_id}/shares", tags=["devices"])
async def share_device(
    *, device_id: str, body: ShareCreate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """Let another account (of any tree) see the device, read-only, until a time."""
    context = gateway_of(request)
    now = context.clock()
    access.check_device(context.directory, caller, device_id, Need.MANAGE, now)
    if body.account_id not in context.directory.accounts:
        raise not_found("account")
    message = pb.ShareDeviceRequest(device_id=device_id, account_id=body.account_id)
    if body.until is not None:
        if aware(body.until) <= now:
            raise Problem(422, "until must lie in the future")
        message.until_time.CopyFrom(to_timestamp(aware(body.until)))
    device = await context.identity.ShareDevice(message, timeout=context.settings.backend_timeout_s)
    return remember(context, device)


@router.delete("/devices/{device_id}/shares/{account_id}", tags=["devices"])
async def unshare_device(
    *, device_id: str, account_id: str, request: Request, caller: CallerDep
) -> dict[str, Any]:
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.MANAGE, context.clock())
    device = await context.identity.UnshareDevice(
        pb.UnshareDeviceRequest(device_id=device_id, account_id=account_id),
        timeout=context.settings.backend_timeout_s,
    )
    return remember(context, device)


@router.post("/devices/{device_id}/share-links", tags=["devices"], status_code=201)
async def create_share_link(
    *, device_id: str, body: ShareLinkCreate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """A public, read-only, time-limited link to the device's live position."""
    context = gateway_of(request)
    now = context.clock()
    access.check_device(context.directory, caller, device_id, Need.MANAGE, now)
    expires = aware(body.expires_at)
    if not now < expires <= now + MAX_LINK_LIFETIME:
        raise Problem(422, "expires_at must lie in the next 7 days")
    link = await context.identity.CreateShareLink(
        pb.CreateShareLinkRequest(
            device_id=device_id, account_id=caller.account_id, expires_time=to_timestamp(expires)
        ),
        timeout=context.settings.backend_timeout_s,
    )
    return {
        "link_id": f"{device_id}{LINK_SEPARATOR}{link.link_id}",
        "device_id": link.device_id,
        "token": link.token,
        "expires_time": render.iso(link.expires_time),
        "position_url": f"/v1/shared/{link.token}/position",
        "live_url": f"/v1/shared/{link.token}/live",
    }


@router.delete("/share-links/{link_id}", tags=["devices"], status_code=204)
async def revoke_share_link(*, link_id: str, request: Request, caller: CallerDep) -> Response:
    context = gateway_of(request)
    device_id, separator, identity_link_id = link_id.rpartition(LINK_SEPARATOR)
    if not separator or not device_id or not identity_link_id:
        raise not_found("share link")
    access.check_device(context.directory, caller, device_id, Need.MANAGE, context.clock())
    revoked = await context.identity.RevokeShareLink(
        pb.RevokeShareLinkRequest(link_id=identity_link_id, device_id=device_id),
        timeout=context.settings.backend_timeout_s,
    )
    expires = (
        revoked.expires_time.ToDatetime(tzinfo=UTC) if revoked.HasField("expires_time") else None
    )
    context.directory.revoke(identity_link_id, expires)
    return Response(status_code=204)


# ---------------------------------------------------------------------- positions


async def last_positions(context: GatewayContext, device_ids: list[str]) -> list[dict[str, Any]]:
    response = await context.history.GetLastPositions(
        hpb.GetLastPositionsRequest(device_ids=device_ids),
        timeout=context.settings.backend_timeout_s,
    )
    return [
        {"device_id": p.device_id, **render.track_point_json(p.point)} for p in response.positions
    ]


@router.get("/devices/{device_id}/last-position", tags=["positions"])
async def device_last_position(
    *, device_id: str, request: Request, caller: CallerDep
) -> dict[str, Any]:
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.READ, context.clock())
    found = await last_positions(context, [device_id])
    if not found:
        raise Problem(404, "the device has not reported a position yet", slug="no-position")
    return found[0]


@router.get("/positions/last", tags=["positions"])
async def many_last_positions(
    *,
    request: Request,
    device_id: Annotated[list[str], Query(min_length=1, max_length=MAX_LAST_POSITIONS)],
    caller: CallerDep,
) -> JSONResponse:
    """The newest position of up to 100 devices; every one must be visible to the caller."""
    context = gateway_of(request)
    now = context.clock()
    wanted = list(dict.fromkeys(device_id))
    for one in wanted:
        access.check_device(context.directory, caller, one, Need.READ, now)
    return JSONResponse({"positions": await last_positions(context, wanted)})


# ---------------------------------------------------------------------- commands


@router.post("/devices/{device_id}/commands", tags=["commands"], status_code=202)
async def send_command(
    *, device_id: str, body: CommandCreate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """Queue a command for the device (delivered by ingest when it is connected)."""
    context = gateway_of(request)
    now = context.clock()
    access.check_device(context.directory, caller, device_id, Need.COMMAND, now)
    kind = check_command(body.kind, body.text, body.parameters)
    ttl = body.expires_in_s or context.settings.command_ttl_s
    command_id = str(uuid.uuid4())
    event = command_pb2.CommandRequested(
        command_id=command_id,
        device_id=device_id,
        kind=kind,  # type: ignore[arg-type]
        text=body.text,
        parameters=body.parameters,
        requested_time=to_timestamp(now),
        expires_time=to_timestamp(now + timedelta(seconds=ttl)),
        requested_by=caller.account_id,
    )
    await context.publisher.publish(COMMANDS_TOPIC, event, key=device_id)
    context.commands.record(CommandState(command_id, device_id, "pending", now))
    return {"command_id": command_id, "device_id": device_id, "status": "pending"}


@router.get("/commands/{command_id}", tags=["commands"])
async def command_status(*, command_id: str, request: Request, caller: CallerDep) -> dict[str, Any]:
    context = gateway_of(request)
    state = context.commands.get(command_id)
    if state is None:
        raise not_found("command")
    access.check_device(context.directory, caller, state.device_id, Need.READ, context.clock())
    return {
        "command_id": state.command_id,
        "device_id": state.device_id,
        "status": state.status,
        "updated_time": render.when(state.updated_at),
        "detail": state.detail,
        "reply_text": state.reply_text,
    }
