"""From decoded frames to durable events and the responses that may then be sent.

The one rule: :meth:`IngestHandler.handle` publishes every event of the frames it is given and
waits for Kafka's acknowledgement *before* it returns the responses. If publishing fails it
raises, nothing is acknowledged, and the device sends the data again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from google.protobuf.message import Message

from ingest.adapters.metrics import POSITIONS_WITHOUT_CONSENT
from ingest.domain import events
from ingest.domain.commands import CommandBook
from ingest.domain.consent import ConsentPolicy, WithoutConsent, coarsen, precise_allowed
from ingest.domain.reports import (
    AlarmReport,
    CommandReply,
    Identify,
    Inbound,
    Logout,
    MediaReport,
    PositionReport,
    StatusReport,
)
from ingest.domain.session import DeviceRejected, DeviceSession, NotIdentified, SessionState
from ingest.ports import Clock, DeviceDirectory, MediaStore, Publisher, Registration
from trackstream.tracking.v1 import command_pb2, device_pb2, fix_pb2, quarantine_pb2
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka.publisher import Outgoing

log = logging.getLogger(__name__)

POSITIONS = "tracking.positions.v1"
SESSIONS = "tracking.device-sessions.v1"
STATUS = "tracking.device-status.v1"
ALARMS = "tracking.device-alarms.v1"
MEDIA = "tracking.media.v1"
QUARANTINE = "tracking.quarantine.v1"
COMMAND_RESULTS = "tracking.command-results.v1"


@dataclass
class HandleResult:
    #: bytes to write to the device, in order, now that the events are durable
    responses: list[bytes] = field(default_factory=list)
    #: the session became ACTIVE with this batch (commands waiting for it can go out)
    identified: bool = False
    logout: bool = False


@dataclass
class IngestHandler:
    publisher: Publisher
    directory: DeviceDirectory
    media: MediaStore
    clock: Clock
    commands: CommandBook
    identifier_key: bytes
    unknown_device_policy: str = "quarantine"
    drop_bad_checksum: bool = False
    consent_policy: ConsentPolicy = field(default_factory=ConsentPolicy)

    async def handle(self, session: DeviceSession, inbounds: Sequence[Inbound]) -> HandleResult:
        result = HandleResult()
        outgoing: list[Outgoing] = []
        received = self.clock.now()
        for inbound in inbounds:
            session.frames += 1
            if not inbound.checksum_ok:
                session.bad_checksums += 1
                if self.drop_bad_checksum:
                    continue
            acknowledge = await self._reports(session, inbound, received, outgoing, result)
            if acknowledge and inbound.response is not None:
                result.responses.append(inbound.response)
        if outgoing:
            await self.publisher.publish_many(outgoing)
        return result

    async def _reports(
        self,
        session: DeviceSession,
        inbound: Inbound,
        received: datetime,
        out: list[Outgoing],
        result: HandleResult,
    ) -> bool:
        """Adds the frame's events to ``out``; returns whether the frame may be acknowledged."""
        acknowledge = True
        for report in inbound.reports:
            if isinstance(report, Identify):
                result.identified |= self._identify(session, report, received, out)
                continue
            if session.state is SessionState.UNIDENTIFIED:
                raise NotIdentified(f"{type(report).__name__} before the device identified itself")
            if session.state is SessionState.QUARANTINED:
                self._quarantined(session, report, received, out)
                acknowledge = False  # kept on the device until an operator claims it
                continue
            assert session.device_id is not None
            precise = self._precise(self._follow_registry(session))
            self._active(session, inbound, report, received, out, precise)
            if isinstance(report, MediaReport):
                await self._media(session.device_id, report, received, out, precise)
            if isinstance(report, Logout):
                result.logout = True
        return acknowledge

    # ---------------------------------------------------------------- identification

    def _follow_registry(self, session: DeviceSession) -> Registration:
        """A connected device whose registration is gone (erased: its tombstone is in the
        registry) or changed (registered again under a new id) is disconnected, its report
        dropped: at its next login it is an unknown device (refused or quarantined, by policy)
        or the new id. Nothing reaches the erased device id again."""
        assert session.identifier_hmac is not None
        registration = self.directory.lookup(session.identifier_hmac)
        if registration is None or registration.device_id != session.device_id:
            raise DeviceRejected("the device's registration changed; log in again")
        return registration

    def _identify(
        self, session: DeviceSession, report: Identify, received: datetime, out: list[Outgoing]
    ) -> bool:
        hmac = identifier_hmac(self.identifier_key, report.identifier)
        if session.identifier_hmac == hmac and session.state is not SessionState.UNIDENTIFIED:
            return False  # the same device saying it again (JT/T 808 auth after register)
        session.identifier_hmac = hmac
        session.identifier_tail = report.identifier[-4:]
        session.model = report.model or session.model
        session.edition = report.edition or session.edition
        session.timezone = report.timezone or session.timezone
        registration = self.directory.lookup(hmac)
        if registration is None:
            if self.unknown_device_policy == "reject":
                raise DeviceRejected("device not in the registry (policy: reject)")
            session.state = SessionState.QUARANTINED
            self._quarantined(session, report, received, out)
            return False
        session.device_id = registration.device_id
        session.state = SessionState.ACTIVE
        if not report.announce:
            return True
        out.append(
            Outgoing(
                SESSIONS,
                device_pb2.DeviceConnected(
                    device_id=registration.device_id,
                    session_id=session.session_id,
                    protocol=session.protocol,  # type: ignore[arg-type]
                    connected_time=to_timestamp(received),
                    device_model=session.model,
                    protocol_edition=session.edition,
                ),
                registration.device_id,
            )
        )
        return True

    def _quarantined(
        self, session: DeviceSession, report: object, received: datetime, out: list[Outgoing]
    ) -> None:
        fix = getattr(report, "fix", None)
        if session.quarantine_announced and fix is None:
            return
        assert session.identifier_hmac is not None
        seen = quarantine_pb2.UnknownDeviceSeen(
            identifier_hmac=session.identifier_hmac,
            protocol=session.protocol,  # type: ignore[arg-type]
            seen_time=to_timestamp(received),
            device_model=session.model,
            identifier_tail=session.identifier_tail,
        )
        if fix is not None:
            seen.last_fix.CopyFrom(events.fix_message(fix))
        if not session.quarantine_announced or fix is not None:
            out.append(Outgoing(QUARANTINE, seen, session.identifier_hmac.hex()))
        session.quarantine_announced = True

    # ---------------------------------------------------------------- a registered device

    def _precise(self, registration: Registration) -> bool:
        """Whether the device's fixes may be processed precisely: the registration is looked
        up for every frame, so a consent withdrawn in the registry applies to the next one."""
        return precise_allowed(
            registration.location_consent,
            registration.worn_by_minor,
            registration.guardian_consent,
            self.consent_policy,
        )

    def _without_consent(self, fix: fix_pb2.Fix) -> bool:
        """Apply the policy to a fix lacking consent; False when it must be dropped."""
        POSITIONS_WITHOUT_CONSENT.labels(self.consent_policy.without_consent.value).inc()
        if self.consent_policy.without_consent is WithoutConsent.DROP:
            return False
        coarsen(fix, self.consent_policy.grid_deg)
        return True

    def _active(
        self,
        session: DeviceSession,
        inbound: Inbound,
        report: object,
        received: datetime,
        out: list[Outgoing],
        precise: bool = True,
    ) -> None:
        device_id = session.device_id
        assert device_id is not None
        origin = events.origin(
            session.protocol, inbound.serial, session.session_id, inbound.checksum_ok
        )
        message: Message
        if isinstance(report, PositionReport):
            message = events.position_reported(
                report, device_id=device_id, received=received, origin_=origin
            )
            if not precise and not self._without_consent(message.fix):
                return  # acknowledged to the device, never processed
            event_id = events.position_event_id(device_id, report.fix.fix_time, report.serial)
            out.append(Outgoing(POSITIONS, message, device_id, event_id=event_id))
        elif isinstance(report, StatusReport):
            message = events.status_reported(
                report, device_id=device_id, received=received, origin_=origin
            )
            out.append(Outgoing(STATUS, message, device_id))
        elif isinstance(report, AlarmReport):
            for alarm in events.alarms_reported(
                report, device_id=device_id, received=received, origin_=origin
            ):
                if not precise and alarm.HasField("fix") and not self._without_consent(alarm.fix):
                    alarm.ClearField("fix")  # the alarm counts; where it was does not go out
                out.append(Outgoing(ALARMS, alarm, device_id))
        elif isinstance(report, CommandReply):
            command_id = self.commands.reply_to(device_id, report.correlation)
            if command_id is None:
                return  # an answer to something else (a response, another instance's command)
            status = (
                command_pb2.COMMAND_STATUS_REPLIED
                if report.success
                else command_pb2.COMMAND_STATUS_FAILED
            )
            reply = command_pb2.CommandResult(
                command_id=command_id or "",
                device_id=device_id,
                status=status,
                result_time=to_timestamp(received),
                reply_text=report.text,
            )
            out.append(Outgoing(COMMAND_RESULTS, reply, device_id))
        elif isinstance(report, Logout):
            out.append(
                Outgoing(
                    SESSIONS,
                    device_pb2.DeviceDisconnected(
                        device_id=device_id,
                        session_id=session.session_id,
                        disconnected_time=to_timestamp(received),
                        reason=device_pb2.DISCONNECT_REASON_LOGOUT,
                        frames_received=session.frames,
                    ),
                    device_id,
                )
            )

    async def _media(
        self,
        device_id: str,
        report: MediaReport,
        received: datetime,
        out: list[Outgoing],
        precise: bool = True,
    ) -> None:
        """The bytes go to the object store first; the event that points at them follows."""
        digest = hashlib.sha256(report.data).hexdigest()
        key = events.media_object_key(device_id, report, received, digest)
        await self.media.put(key, report.data, report.content_type)
        uploaded = events.media_uploaded(
            report,
            device_id=device_id,
            bucket=self.media.bucket,
            object_key=key,
            sha256=digest,
            received=received,
        )
        if not precise and uploaded.HasField("fix") and not self._without_consent(uploaded.fix):
            uploaded.ClearField("fix")
        out.append(Outgoing(MEDIA, uploaded, device_id))
