"""Fleet identities: valid, unique, reproducible."""

from __future__ import annotations

import uuid

import pytest

from trackstream_events.pseudonyms import normalise_identifier
from trackstream_protocols.jt808 import Jt808Address
from trackstream_simulator.identities import (
    device_id_for,
    gt06_identity,
    imei_for,
    is_valid_imei,
    jt808_identity,
    luhn_check_digit,
    owner_account_id_for,
    phone_for,
)

#: IMEIs of real devices (logins in libs/protocols/tests/gt06_frames.py) and Wikipedia's example
REAL_IMEIS = [
    "864717003664467",
    "863586038760942",
    "353419036066061",
    "860470067873061",
    "864717003233347",
    "490154203237518",
]


@pytest.mark.parametrize("imei", REAL_IMEIS)
def test_luhn_digit_of_real_imeis(imei: str) -> None:
    assert is_valid_imei(imei)
    assert luhn_check_digit(imei[:14]) == int(imei[-1])


def test_invalid_imeis_are_recognised() -> None:
    assert not is_valid_imei("864717003664468")
    assert not is_valid_imei("86471700366446")
    assert not is_valid_imei("86471700366446X")
    with pytest.raises(ValueError):
        luhn_check_digit("12a4")


def test_imeis_are_valid_unique_and_reproducible() -> None:
    imeis = [imei_for(1, i) for i in range(2000)]
    assert all(is_valid_imei(imei) and imei.startswith("86") for imei in imeis)
    assert len(set(imeis)) == len(imeis)
    assert imeis == [imei_for(1, i) for i in range(2000)]
    assert imei_for(2, 0) != imei_for(1, 0)
    assert imei_for(1, 0, label="jt808") != imei_for(1, 0)


def test_phones_are_twelve_digits_unique_and_fit_both_headers() -> None:
    phones = [phone_for(1, i) for i in range(2000)]
    assert all(len(p) == 12 and p.startswith("01") and p.isdigit() for p in phones)
    assert len(set(phones)) == len(phones)
    phone = phones[0]
    wide = Jt808Address.from_phone(phone, protocol_version=1).phone_bcd.hex()
    assert len(wide) == 20 and normalise_identifier(wide) == normalise_identifier(phone)


def test_device_ids_are_stable_uuids_per_seed_protocol_and_index() -> None:
    a = device_id_for(1, "gt06", 0)
    assert uuid.UUID(a).version == 5
    assert a == device_id_for(1, "gt06", 0)
    assert (
        len(
            {
                a,
                device_id_for(1, "jt808", 0),
                device_id_for(1, "gt06", 1),
                device_id_for(2, "gt06", 0),
            }
        )
        == 4
    )
    assert owner_account_id_for(1) == owner_account_id_for(1) != owner_account_id_for(2)


def test_identities_of_both_protocols() -> None:
    g = gt06_identity(4, 2)
    assert (g.protocol, g.index, g.identifier, g.edition) == ("gt06", 2, imei_for(4, 2), None)
    j = jt808_identity(4, 2)
    assert (j.protocol, j.identifier) == ("jt808", phone_for(4, 2))
    assert j.imei is not None and is_valid_imei(j.imei)


@pytest.mark.parametrize(("fraction", "expected"), [(0.0, 0), (0.25, 25), (0.5, 50), (1.0, 100)])
def test_a_fraction_of_jt808_terminals_use_the_2019_header(fraction: float, expected: int) -> None:
    editions = [jt808_identity(1, i, fraction_2019=fraction).edition for i in range(100)]
    assert editions.count("2019") == expected
    assert editions.count("2013") == 100 - expected


def test_out_of_range_indexes_are_refused() -> None:
    with pytest.raises(ValueError):
        imei_for(1, -1)
    with pytest.raises(ValueError):
        phone_for(1, 1_000_000)
    with pytest.raises(ValueError):
        jt808_identity(1, 0, fraction_2019=1.5)
