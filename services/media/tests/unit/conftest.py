"""Fakes for the media ports: an in-memory object store, catalogue and registry."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime

import pytest

from media.domain.linking import AlarmCandidate
from media.domain.model import MediaRecord
from media.domain.verify import StoredFacts
from media.handlers import MediaApp
from trackstream.identity.v1.accounts_pb2 import AccountChanged, AccountRetention
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_events.retention import AccountRetentionPolicy, DataKind
from trackstream_testing import FakePublisher

IDENTIFIER_KEY = b"unit-test-identifier-key-32-bytes"
BUCKET = "trackstream-media"


class FakeObjectStore:
    def __init__(self, bucket: str = BUCKET) -> None:
        self.bucket = bucket
        #: (bucket, key) -> list of versions (newest last)
        self.objects: dict[tuple[str, str], list[bytes]] = {}

    async def facts(self, bucket: str, key: str) -> StoredFacts | None:
        versions = self.objects.get((bucket, key))
        if not versions:
            return None
        data = versions[-1]
        return StoredFacts(size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects.setdefault((self.bucket, key), []).append(data)

    async def put_named_by_hash(
        self, data: bytes, content_type: str, key_for: Callable[[str], str]
    ) -> tuple[str, str]:
        sha256 = hashlib.sha256(data).hexdigest()
        key = key_for(sha256)
        await self.put(key, data, content_type)
        return sha256, key

    async def delete(self, bucket: str, key: str) -> None:
        self.objects.pop((bucket, key), None)

    async def delete_prefix(self, bucket: str, prefix: str) -> int:
        doomed = [k for k in self.objects if k[0] == bucket and k[1].startswith(prefix)]
        count = sum(len(self.objects.pop(k)) for k in doomed)
        return count

    def presigned_get(self, bucket: str, key: str, ttl_s: int) -> str:
        return f"https://s3.test/{bucket}/{key}?ttl={ttl_s}"


class InMemoryCatalogue:
    def __init__(self) -> None:
        self.records: dict[str, MediaRecord] = {}
        self.expiry: dict[date, dict[str, str]] = {}
        self.captures: dict[tuple[str, int], str] = {}
        self.alarms: dict[str, dict[str, AlarmCandidate]] = {}

    async def add(self, record: MediaRecord, expires_day: date | None) -> None:
        self.records[record.media_id] = record
        if expires_day is not None:
            self.expiry.setdefault(expires_day, {})[record.media_id] = record.device_id

    async def get(self, media_id: str) -> MediaRecord | None:
        return self.records.get(media_id)

    async def list_by_device(
        self, device_id: str, start: datetime, end: datetime, limit: int, after: str | None
    ) -> tuple[list[MediaRecord], str | None]:
        found = sorted(
            (
                r
                for r in self.records.values()
                if r.device_id == device_id and start <= r.captured_time < end
            ),
            key=lambda r: (r.captured_time, r.media_id),
            reverse=True,
        )
        return found[:limit], None

    async def list_by_alarm(
        self, alarm_id: str, limit: int, after: str | None
    ) -> tuple[list[MediaRecord], str | None]:
        found = sorted(
            (r for r in self.records.values() if r.alarm_id == alarm_id),
            key=lambda r: (r.captured_time, r.media_id),
            reverse=True,
        )
        return found[:limit], None

    async def remove(self, record: MediaRecord) -> None:
        self.records.pop(record.media_id, None)

    async def all_of_device(self, device_id: str) -> list[MediaRecord]:
        return [r for r in self.records.values() if r.device_id == device_id]

    async def expiring(self, day: date) -> list[tuple[str, str]]:
        return list(self.expiry.get(day, {}).items())

    async def forget_expiry_day(self, day: date) -> None:
        self.expiry.pop(day, None)

    async def remember_capture(self, device_id: str, device_media_id: int, command_id: str) -> None:
        self.captures[(device_id, device_media_id)] = command_id

    async def capture_of(self, device_id: str, device_media_id: int) -> str | None:
        return self.captures.get((device_id, device_media_id))

    async def remember_alarm(self, alarm: AlarmCandidate, now: datetime) -> None:
        self.alarms.setdefault(alarm.device_id, {})[alarm.alarm_id] = alarm

    async def alarms_near(
        self, device_id: str, start: datetime, end: datetime
    ) -> list[AlarmCandidate]:
        return [a for a in self.alarms.get(device_id, {}).values() if start <= a.alarm_time <= end]

    async def link_alarm(self, record: MediaRecord, alarm_id: str) -> None:
        if record.media_id in self.records:
            self.records[record.media_id] = replace(record, alarm_id=alarm_id)

    async def forget_alarms(self, device_id: str) -> None:
        self.alarms.pop(device_id, None)


class FakeDevices:
    """imei -> (device id, account id)."""

    def __init__(self) -> None:
        self.by_hmac: dict[bytes, str] = {}
        self.accounts: dict[str, str] = {}

    def register(self, imei: str, device_id: str, account_id: str) -> None:
        self.by_hmac[identifier_hmac(IDENTIFIER_KEY, imei)] = device_id
        self.accounts[device_id] = account_id

    def device_of(self, identifier: str) -> str | None:
        return self.by_hmac.get(identifier_hmac(IDENTIFIER_KEY, identifier))

    def account_of(self, device_id: str) -> str | None:
        return self.accounts.get(device_id)


#: an accounts table with nobody in it: every account takes the platform default
NO_ACCOUNTS: dict[str, AccountChanged] = {}


def accounts_with_media_days(days: dict[str, int]) -> dict[str, AccountChanged]:
    return {
        a: AccountChanged(account_id=a, retention=AccountRetention(media_days=d))
        for a, d in days.items()
    }


class Harness:
    def __init__(self, retention: AccountRetentionPolicy | None = None) -> None:
        self.store = FakeObjectStore()
        self.catalogue = InMemoryCatalogue()
        self.publisher = FakePublisher(source="/media")
        self.devices = FakeDevices()
        self.app = MediaApp(
            store=self.store,
            catalogue=self.catalogue,
            publisher=self.publisher,
            devices=self.devices,
            retention=retention
            or AccountRetentionPolicy(DataKind.MEDIA, 0, lookup=NO_ACCOUNTS.get),
        )


@pytest.fixture
def harness() -> Harness:
    return Harness()
