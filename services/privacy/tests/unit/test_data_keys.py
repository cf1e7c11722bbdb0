"""The privacy-keys participant destroys every erased subject's data key, idempotently."""

from __future__ import annotations

import pytest

from privacy.data_keys import STORE, KeyShredder
from privacy.domain.plan import PARTICIPANT_STORES
from trackstream.privacy.v1.erasure_pb2 import ErasureOrdered
from trackstream_kafka.sealing import DataKeys, InMemoryDataKeyStore, SubjectShredded


async def _three_days() -> int:
    return 259_200


async def test_an_account_erasure_destroys_the_keys_of_the_account_and_its_devices() -> None:
    store = InMemoryDataKeyStore()
    producer = DataKeys(store)
    keys = await producer.for_sealing(["dev-1", "dev-2", "acc-1", "dev-other"])
    shredder = KeyShredder(DataKeys(store), gc_grace_s=_three_days)
    order = ErasureOrdered(
        request_id="r1", device_ids=["dev-1", "dev-2"], account_ids=["acc-1"], attempt=1
    )
    [erased] = await shredder.erase(order)
    assert erased.store == STORE and erased.mechanism == "crypto-shred" and erased.deleted == 3
    assert STORE in PARTICIPANT_STORES["privacy-keys"]
    assert set(store.keys) == {"dev-other"}
    assert {keys[s].key_id for s in ("dev-1", "dev-2", "acc-1")} == set(store.destroyed)
    # a re-sent order finds nothing left to destroy and says so
    [again] = await shredder.erase(order)
    assert again.deleted == 0
    # a device that never sealed anything still gets no key afterwards
    [_] = await shredder.erase(ErasureOrdered(request_id="r2", device_ids=["dev-new"]))
    reader = DataKeys(store)
    assert await reader.for_opening([("dev-1", keys["dev-1"].key_id)]) == {
        ("dev-1", keys["dev-1"].key_id): None
    }
    with pytest.raises(SubjectShredded):
        await DataKeys(store).for_sealing(["dev-new"])
    assert "dev-new" not in store.keys
    assert (await DataKeys(store).for_opening([("dev-other", keys["dev-other"].key_id)]))[
        ("dev-other", keys["dev-other"].key_id)
    ] == keys["dev-other"]
