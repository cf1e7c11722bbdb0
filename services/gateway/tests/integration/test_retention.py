"""Retention per account end to end: a distributor's admin sets it through the gateway, identity
stores and publishes it, and history, alarm and media (their tables following
identity.accounts.v1) apply it to the enterprise below, which inherits it; alarm's sweep then
removes that enterprise's alarms older than the day it keeps, and nobody else's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.gateway.tests.integration.conftest import (
    Stack,
    bearer,
    eventually,
    login,
    unique_imei,
)
from trackstream.alarm.v1 import alarm_pb2
from trackstream.identity.v1 import accounts_pb2 as apb
from trackstream_events.timestamps import to_timestamp

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _account(
    stack: Stack, client: httpx.AsyncClient, parent: str, kind: int, label: str
) -> tuple[str, dict[str, str]]:
    account_id, email = await stack.create_account(parent, kind, label=label)

    async def known() -> bool:
        return account_id in stack.gateway.context.directory.accounts

    await eventually(known)
    return account_id, bearer(await login(client, email))


async def _device(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    device = await client.post(
        "/v1/devices", headers=headers, json={"identifier": unique_imei(), "protocol": "gt06"}
    )
    assert device.status_code == 201, device.text
    return str(device.json()["device_id"])


def _alarm(device_id: str, when: datetime) -> alarm_pb2.AlarmRaised:
    return alarm_pb2.AlarmRaised(
        alarm_id=str(uuid.uuid4()),
        device_id=device_id,
        type=alarm_pb2.ALARM_TYPE_OVERSPEED,
        origin=alarm_pb2.ALARM_ORIGIN_PLATFORM,
        alarm_time=to_timestamp(when),
    )


async def _listed(
    client: httpx.AsyncClient, headers: dict[str, str], device_id: str, since: datetime
) -> set[str]:
    response = await client.get(
        f"/v1/devices/{device_id}/alarms",
        params={"from": since.isoformat(), "to": datetime.now(UTC).isoformat()},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return {a["alarm_id"] for a in response.json()["alarms"]}


async def test_a_retention_set_through_the_gateway_is_inherited_applied_and_swept(
    stack: Stack,
) -> None:
    assert stack.media is not None
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        distributor, distributor_admin = await _account(
            stack, client, stack.platform_id, apb.ACCOUNT_KIND_DISTRIBUTOR, "ret-dist"
        )
        enterprise, enterprise_admin = await _account(
            stack, client, distributor, apb.ACCOUNT_KIND_ENTERPRISE, "ret-ent"
        )
        other, other_admin = await _account(
            stack, client, stack.platform_id, apb.ACCOUNT_KIND_ENTERPRISE, "ret-other"
        )
        device, other_device = (
            await _device(client, enterprise_admin),
            await _device(client, other_admin),
        )

        async def alarm_knows_the_devices() -> bool:
            registry = stack.alarm.tables.registry
            return registry.get(device) is not None and registry.get(other_device) is not None

        await eventually(alarm_knows_the_devices)
        now = datetime.now(UTC)
        old, new = _alarm(device, now - timedelta(days=3)), _alarm(device, now - timedelta(hours=1))
        other_old = _alarm(other_device, now - timedelta(days=3))
        await stack.alarm.store.write([old, new, other_old])  # what alarm's history writer does
        since = now - timedelta(days=4)
        assert await _listed(client, enterprise_admin, device, since) == {
            old.alarm_id,
            new.alarm_id,
        }

        # the distributor's admin sets a day of alarms (and a week of positions) for its tree
        put = await client.put(
            f"/v1/accounts/{distributor}/retention",
            json={"alarms_days": 1, "positions_days": 7},
            headers=distributor_admin,
        )
        assert put.status_code == 200, put.text
        # the enterprise below sets nothing of its own: it inherits, and says from whom
        got = await client.get(f"/v1/accounts/{enterprise}/retention", headers=enterprise_admin)
        assert got.status_code == 200, got.text
        assert got.json()["alarms_days"] is None
        assert got.json()["effective"]["alarms_days"] == {"days": 1, "set_by": distributor}
        # an enterprise admin does not set its parent's
        refused = await client.put(
            f"/v1/accounts/{distributor}/retention",
            json={"alarms_days": 3650},
            headers=enterprise_admin,
        )
        assert refused.status_code == 404

        # every service learns it through identity.accounts.v1
        applies: list[Callable[[], bool]] = [
            lambda: stack.alarm.retention.days(enterprise) == 1,
            lambda: stack.history.retention.days(enterprise) == 7,
        ]

        async def learnt() -> bool:
            return all(check() for check in applies)

        await eventually(learnt, within=30)
        assert stack.alarm.retention.days(other) == 0
        assert stack.media.app.retention.days(enterprise) == 0  # media not set: the default

        swept = await stack.alarm.sweep_retention()
        assert swept.get("alarms_by_device_day", 0) >= 1
        assert await _listed(client, enterprise_admin, device, since) == {new.alarm_id}
        assert await _listed(client, other_admin, other_device, since) == {other_old.alarm_id}
