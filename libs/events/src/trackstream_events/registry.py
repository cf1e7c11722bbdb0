"""Maps ``ce_type`` (the full protobuf message name) to message classes, both ways."""

from __future__ import annotations

from google.protobuf.message import DecodeError, Message


class UnknownEventType(LookupError):
    """An event type this consumer does not know: skip it and count it (docs/events.md)."""


class UndecodableEvent(ValueError):
    """The value is not a valid protobuf encoding of its declared type."""


class EventRegistry:
    def __init__(self, *message_types: type[Message]) -> None:
        self._by_name: dict[str, type[Message]] = {}
        for message_type in message_types:
            self.register(message_type)

    def register(self, message_type: type[Message]) -> None:
        self._by_name[message_type.DESCRIPTOR.full_name] = message_type

    def __contains__(self, type_name: str) -> bool:
        return type_name in self._by_name

    def message_type(self, type_name: str) -> type[Message]:
        try:
            return self._by_name[type_name]
        except KeyError:
            raise UnknownEventType(type_name) from None

    def decode(self, type_name: str, data: bytes) -> Message:
        try:
            message_type = self._by_name[type_name]
        except KeyError:
            raise UnknownEventType(type_name) from None
        message = message_type()
        try:
            message.ParseFromString(data)
        except DecodeError as err:
            raise UndecodableEvent(f"{type_name}: {err}") from None
        return message


def type_name(message: Message) -> str:
    name = _TYPE_NAMES.get(type(message))
    if name is None:
        name = _TYPE_NAMES[type(message)] = str(message.DESCRIPTOR.full_name)
    return name


#: full names by message class (the descriptor lookup is the slow part, once per event)
_TYPE_NAMES: dict[type[Message], str] = {}


def default_registry() -> EventRegistry:
    """Every event type the platform publishes."""
    from trackstream.alarm.v1 import alarm_pb2 as alarm_events
    from trackstream.alarm.v1 import device_state_pb2, geofence_pb2
    from trackstream.geocoding.v1 import address_pb2
    from trackstream.identity.v1 import accounts_pb2, credentials_pb2, device_registry_pb2
    from trackstream.media.v1 import media_pb2 as media_events
    from trackstream.notification.v1 import notification_pb2
    from trackstream.privacy.v1 import erasure_pb2
    from trackstream.tracking.v1 import (
        alarm_pb2,
        command_pb2,
        device_pb2,
        media_pb2,
        position_pb2,
        quarantine_pb2,
    )

    return EventRegistry(
        device_registry_pb2.DeviceRegistered,
        accounts_pb2.AccountChanged,
        credentials_pb2.CredentialRevoked,
        credentials_pb2.ApiKeyIssued,
        media_pb2.MediaUploaded,
        quarantine_pb2.UnknownDeviceSeen,
        position_pb2.PositionReported,
        device_pb2.DeviceConnected,
        device_pb2.DeviceDisconnected,
        device_pb2.DeviceStatusReported,
        alarm_pb2.DeviceAlarmReported,
        command_pb2.CommandRequested,
        command_pb2.CommandResult,
        address_pb2.AddressResolved,
        alarm_events.AlarmRaised,
        geofence_pb2.Geofence,
        geofence_pb2.Rule,
        device_state_pb2.DeviceAlarmState,
        media_events.MediaStored,
        notification_pb2.InboxNotificationAdded,
        erasure_pb2.ErasureRequested,
        erasure_pb2.ErasureOrdered,
        erasure_pb2.ErasureAcknowledged,
    )
