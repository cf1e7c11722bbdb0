"""The AlarmService gRPC API: geofences and rules (published on their compacted topics) and the
alarm history (Cassandra), for the gateway."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import grpc
from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from alarm.adapters.codec import geofence_of, rule_of
from alarm.adapters.store import AlarmNotFound, AlarmStore, StoredAlarm
from alarm.domain.geofences import validate_geofence
from alarm.domain.model import InvalidInput
from alarm.domain.rules import validate_rule
from alarm.handlers import GEOFENCES, RULES, Definitions
from trackstream.alarm.v1 import alarm_service_pb2 as pb
from trackstream.alarm.v1 import alarm_service_pb2_grpc as pb_grpc
from trackstream.alarm.v1 import geofence_pb2
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka import PublishError

STORE_ERRORS = (DriverException, NoHostAvailable)
DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_RANGE = timedelta(days=31)
MAX_BOUND_DEVICES = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ConfigPublisher(Protocol):
    async def publish(self, topic: str, event: Any, *, key: str) -> object: ...

    async def publish_tombstone(self, topic: str, *, key: str) -> None: ...


class Directory(Protocol):
    """Who exists: accounts, and devices with their owner."""

    def account_exists(self, account_id: str) -> bool: ...

    def owner_of(self, device_id: str) -> str | None: ...


def _token(stored: StoredAlarm) -> str:
    micros = (stored.time - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{stored.alarm.alarm_id}".encode()).decode()


def _after(token: str) -> tuple[datetime, str]:
    micros, alarm_id = base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)
    return _EPOCH + timedelta(microseconds=int(micros)), alarm_id


def record_message(stored: StoredAlarm) -> pb.AlarmRecord:
    record = pb.AlarmRecord(
        alarm=stored.alarm,
        acknowledged_by=stored.acknowledged_by,
        resolved_by=stored.resolved_by,
        note=stored.note,
    )
    if stored.acknowledged_time is not None:
        record.acknowledged_time.CopyFrom(to_timestamp(stored.acknowledged_time))
    if stored.resolved_time is not None:
        record.resolved_time.CopyFrom(to_timestamp(stored.resolved_time))
    return record


class AlarmApi(pb_grpc.AlarmServiceServicer):
    def __init__(
        self,
        *,
        definitions: Definitions,
        directory: Directory,
        publisher: ConfigPublisher,
        store: AlarmStore,
        apply_fence: Callable[[str, geofence_pb2.Geofence | None], None],
        apply_rule: Callable[[str, geofence_pb2.Rule | None], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._definitions = definitions
        self._directory = directory
        self._publisher = publisher
        self._store = store
        self._apply_fence = apply_fence
        self._apply_rule = apply_rule
        self._clock = clock

    # ------------------------------------------------------------------ checks

    async def _check_owner(self, account_id: str, device_ids: list[str], context: Any) -> None:
        if not account_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "account_id is required")
        if not self._directory.account_exists(account_id):
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown account {account_id}")
        if len(device_ids) > MAX_BOUND_DEVICES:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_BOUND_DEVICES} devices"
            )
        for device_id in device_ids:
            # a device of another account is as unknown as one that does not exist
            if self._directory.owner_of(device_id) != account_id:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown device {device_id}")

    async def _published(self, context: Any, action: Any) -> None:
        try:
            await action
        except PublishError:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "event log unavailable, retry")

    # ------------------------------------------------------------------ geofences

    async def PutGeofence(
        self, request: pb.PutGeofenceRequest, context: Any
    ) -> geofence_pb2.Geofence:
        fence = geofence_pb2.Geofence()
        fence.CopyFrom(request.geofence)
        fence.device_ids[:] = list(dict.fromkeys(fence.device_ids))
        await self._check_owner(fence.account_id, list(fence.device_ids), context)
        if not fence.HasField("circle") and not fence.HasField("polygon"):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "a circle or a polygon is required"
            )
        existing = self._definitions.fence_messages.get(fence.geofence_id)
        if fence.geofence_id and existing is not None and existing.account_id != fence.account_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown geofence {fence.geofence_id}")
        fence.geofence_id = fence.geofence_id or str(uuid.uuid4())
        try:
            validate_geofence(geofence_of(fence))
        except InvalidInput as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        fence.updated_time.CopyFrom(to_timestamp(self._clock()))
        await self._published(
            context, self._publisher.publish(GEOFENCES, fence, key=fence.geofence_id)
        )
        self._apply_fence(fence.geofence_id, fence)
        return fence

    async def DeleteGeofence(self, request: pb.DeleteRequest, context: Any) -> pb.DeleteResponse:
        existing = self._definitions.fence_messages.get(request.id)
        if existing is None or existing.account_id != request.account_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown geofence {request.id}")
        await self._published(context, self._publisher.publish_tombstone(GEOFENCES, key=request.id))
        self._apply_fence(request.id, None)
        return pb.DeleteResponse()

    async def ListGeofences(
        self, request: pb.ListRequest, context: Any
    ) -> pb.ListGeofencesResponse:
        fences = [
            f
            for f in self._definitions.fence_messages.values()
            if f.account_id == request.account_id
        ]
        return pb.ListGeofencesResponse(geofences=sorted(fences, key=lambda f: f.geofence_id))

    # ------------------------------------------------------------------ rules

    async def PutRule(self, request: pb.PutRuleRequest, context: Any) -> geofence_pb2.Rule:
        rule = geofence_pb2.Rule()
        rule.CopyFrom(request.rule)
        rule.device_ids[:] = list(dict.fromkeys(rule.device_ids))
        await self._check_owner(rule.account_id, list(rule.device_ids), context)
        existing = self._definitions.rule_messages.get(rule.rule_id)
        if rule.rule_id and existing is not None and existing.account_id != rule.account_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown rule {rule.rule_id}")
        rule.rule_id = rule.rule_id or str(uuid.uuid4())
        try:
            validate_rule(rule_of(rule))
        except InvalidInput as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        rule.updated_time.CopyFrom(to_timestamp(self._clock()))
        await self._published(context, self._publisher.publish(RULES, rule, key=rule.rule_id))
        self._apply_rule(rule.rule_id, rule)
        return rule

    async def DeleteRule(self, request: pb.DeleteRequest, context: Any) -> pb.DeleteResponse:
        existing = self._definitions.rule_messages.get(request.id)
        if existing is None or existing.account_id != request.account_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown rule {request.id}")
        await self._published(context, self._publisher.publish_tombstone(RULES, key=request.id))
        self._apply_rule(request.id, None)
        return pb.DeleteResponse()

    async def ListRules(self, request: pb.ListRequest, context: Any) -> pb.ListRulesResponse:
        rules = [
            r
            for r in self._definitions.rule_messages.values()
            if r.account_id == request.account_id
        ]
        return pb.ListRulesResponse(rules=sorted(rules, key=lambda r: r.rule_id))

    # ------------------------------------------------------------------ history

    async def ListAlarms(
        self, request: pb.ListAlarmsRequest, context: Any
    ) -> pb.ListAlarmsResponse:
        if not request.device_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "device_id is required")
        start = request.start_time.ToDatetime(tzinfo=UTC)
        end = request.end_time.ToDatetime(tzinfo=UTC)
        if end <= start or end - start > MAX_RANGE:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"end_time must follow start_time, by at most {MAX_RANGE.days} days",
            )
        size = min(request.page_size or DEFAULT_PAGE, MAX_PAGE)
        try:
            after = _after(request.page_token) if request.page_token else None
        except (ValueError, UnicodeDecodeError):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_token is not one of ours")
        try:
            found = await self._store.list(
                request.device_id,
                start,
                end,
                types=frozenset(int(t) for t in request.types),
                limit=size,
                after=after,
            )
        except STORE_ERRORS:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "alarm store unavailable, retry")
        return pb.ListAlarmsResponse(
            alarms=[record_message(s) for s in found],
            next_page_token=_token(found[-1]) if len(found) == size else "",
        )

    async def _mark(self, request: pb.AlarmActionRequest, context: Any, action: str) -> Any:
        if not request.device_id or not request.alarm_id or not request.user_id:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "device_id, alarm_id and user_id are required"
            )
        try:
            stored = await self._store.mark(
                request.device_id,
                request.alarm_id,
                action=action,
                user_id=request.user_id,
                note=request.note,
                at=self._clock(),
            )
        except AlarmNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown alarm {request.alarm_id}")
        except STORE_ERRORS:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "alarm store unavailable, retry")
        return record_message(stored)

    async def AcknowledgeAlarm(
        self, request: pb.AlarmActionRequest, context: Any
    ) -> pb.AlarmRecord:
        return await self._mark(request, context, "acknowledge")  # type: ignore[no-any-return]

    async def ResolveAlarm(self, request: pb.AlarmActionRequest, context: Any) -> pb.AlarmRecord:
        return await self._mark(request, context, "resolve")  # type: ignore[no-any-return]


async def serve_grpc(api: AlarmApi, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    pb_grpc.add_AlarmServiceServicer_to_server(api, server)
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    await checker.set("trackstream.alarm.v1.AlarmService", health_pb2.HealthCheckResponse.SERVING)
    await checker.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, bound
