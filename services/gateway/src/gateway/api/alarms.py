"""Geofences, alarm rules and the alarm history, from the alarm service.

Geofences and rules belong to an account: ADMIN manages those of the accounts of its subtree,
OPERATOR and VIEWER read them. Their ids as the API shows them are ``<account id>.<id>``, so
the gateway authorises the account before it asks alarm. Devices they are bound to must be
visible to the caller (else 404), and alarm requires them to be owned by that account (else
404 too). Alarms are read on a visible device; acknowledging and resolving them needs
OPERATOR or ADMIN on a device the caller's subtree owns (a shared device is read-only)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field, model_validator

from gateway.api.problems import Problem, not_found
from gateway.api.schemas import Strict
from gateway.api.security import CallerDep, gateway_of
from gateway.context import GatewayContext
from gateway.domain import access, render
from gateway.domain.access import Need
from gateway.domain.model import Caller
from gateway.domain.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_token,
    encode_token,
    page_after,
)
from gateway.domain.timerange import checked_range
from trackstream.alarm.v1 import alarm_pb2
from trackstream.alarm.v1 import alarm_service_pb2 as pb
from trackstream.alarm.v1 import geofence_pb2 as gpb
from trackstream_events.timestamps import to_timestamp

router = APIRouter(prefix="/v1")
MAX_BOUND_DEVICES = 1000
MAX_VERTICES = 1000
MAX_SECONDS = 30 * 86400  # timers and durations: at most 30 days (uint32 on the wire)
DEFAULT_ALARM_WINDOW = timedelta(days=1)
RULE_KINDS = {
    render.rule_kind_name(v): v for v in gpb.RuleKind.values() if v != gpb.RULE_KIND_UNSPECIFIED
}
ALARM_TYPES = {
    render.alarm_type_name(v): v
    for v in alarm_pb2.AlarmType.values()
    if v != alarm_pb2.ALARM_TYPE_UNSPECIFIED
}
RuleKindName = Literal[
    "overspeed",
    "offline",
    "ignition",
    "idle",
    "parked_too_long",
    "low_battery",
    "movement_while_armed",
]
Seconds = Annotated[int, Field(ge=0, le=MAX_SECONDS)]
DeviceIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]],
    Field(max_length=MAX_BOUND_DEVICES),
]


# ---------------------------------------------------------------------- bodies


class LatLng(Strict):
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)


class Circle(Strict):
    center: LatLng
    #: not checked here: alarm refuses a radius <= 0 with its reason
    radius_m: float = Field(allow_inf_nan=False, le=1_000_000)


class Polygon(Strict):
    vertices: list[LatLng] = Field(max_length=MAX_VERTICES)


class GeofenceUpdate(Strict):
    name: str | None = Field(default=None, max_length=200)
    circle: Circle | None = None
    polygon: Polygon | None = None
    #: empty: every device of the account
    device_ids: DeviceIds | None = None
    alarm_on_enter: bool | None = None
    alarm_on_exit: bool | None = None
    dwell_alarm_s: Seconds | None = None
    edge_margin_m: float | None = Field(default=None, ge=0, le=10_000, allow_inf_nan=False)
    confirm_s: Seconds | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> GeofenceUpdate:
        if self.circle is not None and self.polygon is not None:
            raise ValueError("a geofence is a circle or a polygon, not both")
        return self


class GeofenceCreate(GeofenceUpdate):
    #: default: the caller's account
    account_id: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default="", max_length=200)
    alarm_on_enter: bool | None = True
    alarm_on_exit: bool | None = True

    @model_validator(mode="after")
    def _a_shape(self) -> GeofenceCreate:
        if self.circle is None and self.polygon is None:
            raise ValueError("a geofence needs a circle or a polygon")
        return self


class RuleUpdate(Strict):
    name: str | None = Field(default=None, max_length=200)
    kind: RuleKindName | None = None
    device_ids: DeviceIds | None = None
    enabled: bool | None = None
    speed_limit_kmh: float | None = Field(default=None, ge=0, le=1000, allow_inf_nan=False)
    hysteresis: float | None = Field(default=None, ge=0, le=1000, allow_inf_nan=False)
    min_duration_s: Seconds | None = None
    offline_after_s: Seconds | None = None
    idle_after_s: Seconds | None = None
    parked_after_s: Seconds | None = None
    battery_below_percent: int | None = Field(default=None, ge=0, le=100)


class RuleCreate(RuleUpdate):
    account_id: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default="", max_length=200)
    kind: RuleKindName | None = Field(default=None)
    enabled: bool | None = True

    @model_validator(mode="after")
    def _a_kind(self) -> RuleCreate:
        if self.kind is None:
            raise ValueError("kind is required")
        return self


class AlarmAction(Strict):
    note: str = Field(default="", max_length=1000)


# ---------------------------------------------------------------------- helpers


def split_owned(owned: str, what: str) -> tuple[str, str]:
    """(account id, alarm's id) of an id as the API shows it; 404 when it is not one."""
    account_id, separator, item_id = owned.rpartition(render.OWNED_ID_SEPARATOR)
    if not separator or not account_id or not item_id:
        raise not_found(what)
    return account_id, item_id


def check_bound_devices(
    context: GatewayContext, caller: Caller, device_ids: Iterable[str]
) -> list[str]:
    """The device ids, deduplicated, each visible to the caller (else 404)."""
    wanted = list(dict.fromkeys(device_ids))
    now = context.clock()
    for device_id in wanted:
        access.check_device(context.directory, caller, device_id, Need.READ, now)
    return wanted


def _apply(message: Any, body: Strict, fields: Iterable[str]) -> None:
    for name in fields:
        value = getattr(body, name)
        if value is not None:
            setattr(message, name, value)


def _page(ids: list[str], kind: str, page_size: int, page_token: str) -> tuple[list[str], Any]:
    after = decode_token(kind, page_token) if page_token else None
    page, last = page_after(ids, after, page_size)
    return page, encode_token(kind, last) if last else None


# ---------------------------------------------------------------------- geofences

GEOFENCE_FIELDS = ("name", "alarm_on_enter", "alarm_on_exit", "dwell_alarm_s", "edge_margin_m")


def _lat_lng(point: LatLng) -> gpb.LatLng:
    return gpb.LatLng(latitude=point.latitude, longitude=point.longitude)


def _apply_geofence(
    context: GatewayContext, caller: Caller, fence: gpb.Geofence, body: GeofenceUpdate
) -> None:
    _apply(fence, body, (*GEOFENCE_FIELDS, "confirm_s"))
    if body.circle is not None:
        fence.circle.CopyFrom(
            gpb.Circle(center=_lat_lng(body.circle.center), radius_m=body.circle.radius_m)
        )
    if body.polygon is not None:
        fence.polygon.CopyFrom(gpb.Polygon(vertices=[_lat_lng(v) for v in body.polygon.vertices]))
    if body.device_ids is not None:
        fence.device_ids[:] = check_bound_devices(context, caller, body.device_ids)


async def _geofences_of(context: GatewayContext, account_id: str) -> list[gpb.Geofence]:
    response = await context.alarm.ListGeofences(
        pb.ListRequest(account_id=account_id), timeout=context.settings.backend_timeout_s
    )
    return list(response.geofences)


async def _geofence(context: GatewayContext, account_id: str, geofence_id: str) -> gpb.Geofence:
    for fence in await _geofences_of(context, account_id):
        if fence.geofence_id == geofence_id:
            return fence
    raise not_found("geofence")


async def _put_geofence(context: GatewayContext, fence: gpb.Geofence) -> dict[str, Any]:
    saved = await context.alarm.PutGeofence(
        pb.PutGeofenceRequest(geofence=fence), timeout=context.settings.backend_timeout_s
    )
    return render.geofence_json(saved)


@router.post("/geofences", tags=["geofences"], status_code=201)
async def create_geofence(
    *, body: GeofenceCreate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """A circle or a polygon of an account (default the caller's), bound to some of its
    devices or (no ``device_ids``) to all of them. Bad geometry: 422 with alarm's reason."""
    context = gateway_of(request)
    account_id = body.account_id or caller.account_id
    access.check_account(context.directory, caller, account_id, Need.MANAGE)
    fence = gpb.Geofence(account_id=account_id)
    _apply_geofence(context, caller, fence, body)
    return await _put_geofence(context, fence)


@router.get("/geofences", tags=["geofences"])
async def list_geofences(
    *,
    request: Request,
    account_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str, Query(max_length=512)] = "",
    caller: CallerDep,
) -> dict[str, Any]:
    """The geofences of one account (default the caller's), by id."""
    context = gateway_of(request)
    owner = account_id or caller.account_id
    access.check_account(context.directory, caller, owner, Need.READ)
    fences = {f.geofence_id: f for f in await _geofences_of(context, owner)}
    page, next_token = _page(sorted(fences), "geofences", page_size, page_token)
    return {
        "geofences": [render.geofence_json(fences[i]) for i in page],
        "next_page_token": next_token,
    }


@router.get("/geofences/{geofence_id}", tags=["geofences"])
async def get_geofence(*, geofence_id: str, request: Request, caller: CallerDep) -> dict[str, Any]:
    context = gateway_of(request)
    account_id, fence_id = split_owned(geofence_id, "geofence")
    access.check_account(context.directory, caller, account_id, Need.READ)
    return render.geofence_json(await _geofence(context, account_id, fence_id))


@router.patch("/geofences/{geofence_id}", tags=["geofences"])
async def update_geofence(
    *, geofence_id: str, body: GeofenceUpdate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """Change some fields; a ``circle`` or a ``polygon`` replaces the shape."""
    context = gateway_of(request)
    account_id, fence_id = split_owned(geofence_id, "geofence")
    access.check_account(context.directory, caller, account_id, Need.MANAGE)
    fence = await _geofence(context, account_id, fence_id)
    fence.ClearField("updated_time")
    _apply_geofence(context, caller, fence, body)
    return await _put_geofence(context, fence)


@router.delete("/geofences/{geofence_id}", tags=["geofences"], status_code=204)
async def delete_geofence(*, geofence_id: str, request: Request, caller: CallerDep) -> Response:
    context = gateway_of(request)
    account_id, fence_id = split_owned(geofence_id, "geofence")
    access.check_account(context.directory, caller, account_id, Need.MANAGE)
    await context.alarm.DeleteGeofence(
        pb.DeleteRequest(account_id=account_id, id=fence_id),
        timeout=context.settings.backend_timeout_s,
    )
    return Response(status_code=204)


# ---------------------------------------------------------------------- rules

RULE_FIELDS = (
    "name",
    "enabled",
    "speed_limit_kmh",
    "hysteresis",
    "min_duration_s",
    "offline_after_s",
    "idle_after_s",
    "parked_after_s",
    "battery_below_percent",
)


def _apply_rule(context: GatewayContext, caller: Caller, rule: gpb.Rule, body: RuleUpdate) -> None:
    _apply(rule, body, RULE_FIELDS)
    if body.kind is not None:
        rule.kind = RULE_KINDS[body.kind]
    if body.device_ids is not None:
        rule.device_ids[:] = check_bound_devices(context, caller, body.device_ids)


async def _rules_of(context: GatewayContext, account_id: str) -> list[gpb.Rule]:
    response = await context.alarm.ListRules(
        pb.ListRequest(account_id=account_id), timeout=context.settings.backend_timeout_s
    )
    return list(response.rules)


async def _rule(context: GatewayContext, account_id: str, rule_id: str) -> gpb.Rule:
    for rule in await _rules_of(context, account_id):
        if rule.rule_id == rule_id:
            return rule
    raise not_found("rule")


async def _put_rule(context: GatewayContext, rule: gpb.Rule) -> dict[str, Any]:
    saved = await context.alarm.PutRule(
        pb.PutRuleRequest(rule=rule), timeout=context.settings.backend_timeout_s
    )
    return render.rule_json(saved)


@router.post("/alarm-rules", tags=["alarm rules"], status_code=201)
async def create_rule(*, body: RuleCreate, request: Request, caller: CallerDep) -> dict[str, Any]:
    """An alarm rule of an account (default the caller's), bound to some of its devices or (no
    ``device_ids``) to all of them. Bad limits: 422 with alarm's reason."""
    context = gateway_of(request)
    account_id = body.account_id or caller.account_id
    access.check_account(context.directory, caller, account_id, Need.MANAGE)
    rule = gpb.Rule(account_id=account_id)
    _apply_rule(context, caller, rule, body)
    return await _put_rule(context, rule)


@router.get("/alarm-rules", tags=["alarm rules"])
async def list_rules(
    *,
    request: Request,
    account_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str, Query(max_length=512)] = "",
    caller: CallerDep,
) -> dict[str, Any]:
    """The alarm rules of one account (default the caller's), by id."""
    context = gateway_of(request)
    owner = account_id or caller.account_id
    access.check_account(context.directory, caller, owner, Need.READ)
    rules = {r.rule_id: r for r in await _rules_of(context, owner)}
    page, next_token = _page(sorted(rules), "alarm-rules", page_size, page_token)
    return {"rules": [render.rule_json(rules[i]) for i in page], "next_page_token": next_token}


@router.get("/alarm-rules/{rule_id}", tags=["alarm rules"])
async def get_rule(*, rule_id: str, request: Request, caller: CallerDep) -> dict[str, Any]:
    context = gateway_of(request)
    account_id, own_id = split_owned(rule_id, "rule")
    access.check_account(context.directory, caller, account_id, Need.READ)
    return render.rule_json(await _rule(context, account_id, own_id))


@router.patch("/alarm-rules/{rule_id}", tags=["alarm rules"])
async def update_rule(
    *, rule_id: str, body: RuleUpdate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    context = gateway_of(request)
    account_id, own_id = split_owned(rule_id, "rule")
    access.check_account(context.directory, caller, account_id, Need.MANAGE)
    rule = await _rule(context, account_id, own_id)
    rule.ClearField("updated_time")
    _apply_rule(context, caller, rule, body)
    return await _put_rule(context, rule)


@router.delete("/alarm-rules/{rule_id}", tags=["alarm rules"], status_code=204)
async def delete_rule(*, rule_id: str, request: Request, caller: CallerDep) -> Response:
    context = gateway_of(request)
    account_id, own_id = split_owned(rule_id, "rule")
    access.check_account(context.directory, caller, account_id, Need.MANAGE)
    await context.alarm.DeleteRule(
        pb.DeleteRequest(account_id=account_id, id=own_id),
        timeout=context.settings.backend_timeout_s,
    )
    return Response(status_code=204)


# ---------------------------------------------------------------------- alarms


@router.get("/devices/{device_id}/alarms", tags=["alarms"])
async def list_alarms(
    *,
    device_id: str,
    request: Request,
    from_: Annotated[
        datetime | None, Query(alias="from", description="RFC 3339; inclusive; default to - 1 day")
    ] = None,
    to: Annotated[
        datetime | None,
        Query(description="RFC 3339; exclusive; default now; at most 31 days after from"),
    ] = None,
    alarm_types: Annotated[
        list[str] | None,
        Query(
            alias="type",
            max_length=len(ALARM_TYPES),
            description="only these alarm types (repeatable), e.g. overspeed, sos",
        ),
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str, Query(max_length=512)] = "",
    caller: CallerDep,
) -> JSONResponse:
    """The device's alarms in [from, to), oldest first, a page at a time."""
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.READ, context.clock())
    end = to or context.clock()
    start, end = checked_range(from_ or end - DEFAULT_ALARM_WINDOW, end)
    types: list[int] = []
    for name in alarm_types or ():
        if name not in ALARM_TYPES:
            raise Problem(422, f"unknown alarm type {name[:40]!r}", slug="invalid-argument")
        types.append(ALARM_TYPES[name])
    response = await context.alarm.ListAlarms(
        pb.ListAlarmsRequest(
            device_id=device_id,
            start_time=to_timestamp(start),
            end_time=to_timestamp(end),
            types=types,  # type: ignore[arg-type]
            page_size=page_size,
            page_token=decode_token("alarms", page_token) if page_token else "",
        ),
        timeout=context.settings.backend_timeout_s,
    )
    return JSONResponse(
        {
            "device_id": device_id,
            "alarms": [render.alarm_record_json(a) for a in response.alarms],
            "next_page_token": (
                encode_token("alarms", response.next_page_token)
                if response.next_page_token
                else None
            ),
        }
    )


async def _act(
    request: Request,
    caller: Caller,
    device_id: str,
    alarm_id: str,
    body: AlarmAction | None,
    resolve: bool,
) -> dict[str, Any]:
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.COMMAND, context.clock())
    message = pb.AlarmActionRequest(
        device_id=device_id,
        alarm_id=alarm_id,
        user_id=caller.account_id,
        note=body.note if body is not None else "",
    )
    call = context.alarm.ResolveAlarm if resolve else context.alarm.AcknowledgeAlarm
    record = await call(message, timeout=context.settings.backend_timeout_s)
    return render.alarm_record_json(record)


@router.post("/devices/{device_id}/alarms/{alarm_id}/acknowledge", tags=["alarms"])
async def acknowledge_alarm(
    *,
    device_id: str,
    alarm_id: str,
    request: Request,
    body: AlarmAction | None = None,
    caller: CallerDep,
) -> dict[str, Any]:
    """Someone saw it (OPERATOR or ADMIN); ``acknowledged_by`` is the caller's account."""
    return await _act(request, caller, device_id, alarm_id, body, resolve=False)


@router.post("/devices/{device_id}/alarms/{alarm_id}/resolve", tags=["alarms"])
async def resolve_alarm(
    *,
    device_id: str,
    alarm_id: str,
    request: Request,
    body: AlarmAction | None = None,
    caller: CallerDep,
) -> dict[str, Any]:
    """It is dealt with (OPERATOR or ADMIN); ``resolved_by`` is the caller's account."""
    return await _act(request, caller, device_id, alarm_id, body, resolve=True)
