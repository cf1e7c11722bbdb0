"""The data rules: validation with one-line reasons, the shape of the account tree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from identity.domain import rules
from identity.domain.errors import FailedPrecondition, InvalidArgument
from identity.domain.model import Account, AccountKind, AccountRole
from trackstream_simulator.identities import gt06_identity, jt808_identity

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def account(
    kind: AccountKind,
    *,
    account_id: str = "a",
    ancestors: tuple[str, ...] = (),
    disabled: bool = False,
) -> Account:
    return Account(
        account_id=account_id,
        parent_account_id=ancestors[-1] if ancestors else "",
        ancestor_account_ids=ancestors,
        kind=kind,
        role=AccountRole.ADMIN,
        email="x@example.com",
        phone="",
        display_name="X",
        password_hash="",
        disabled=disabled,
        created_time=NOW,
    )


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("Anna@Example.COM", "anna@example.com"),
        ("  bob.smith+fleet@mail.example.org ", "bob.smith+fleet@mail.example.org"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(given: str, normalised: str) -> None:
    assert rules.validate_email(given) == normalised


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "anna",
        "anna@",
        "@example.com",
        "anna@example",
        "an na@example.com",
        "anna@@example.com",
        "anna@-example.com",
        "a" * 65 + "@example.com",
    ],
)
def test_malformed_emails_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        rules.validate_email(bad)
    assert "\n" not in str(refused.value)
    if bad:
        assert bad.strip() not in str(refused.value)


@pytest.mark.parametrize("good", ["+491701234567", "+8613912345678", "+12025550123", ""])
def test_e164_phones_are_accepted(good: str) -> None:
    assert rules.validate_phone(good) == good


@pytest.mark.parametrize(
    "bad", ["491701234567", "+0491701234567", "+49 170 1234567", "+49-170", "+1234567890123456"]
)
def test_non_e164_phones_are_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument, match=r"E\.164"):
        rules.validate_phone(bad)


def test_passwords_need_ten_characters() -> None:
    assert rules.validate_password("0123456789") == "0123456789"
    with pytest.raises(InvalidArgument, match="at least 10"):
        rules.validate_password("012345678")
    with pytest.raises(InvalidArgument, match="at most"):
        rules.validate_password("x" * (rules.MAX_PASSWORD_LENGTH + 1))


def test_display_names_are_required_bounded_and_printable() -> None:
    assert rules.validate_display_name("  Fleet Ltd ") == "Fleet Ltd"
    with pytest.raises(InvalidArgument, match="required"):
        rules.validate_display_name("   ")
    with pytest.raises(InvalidArgument, match="at most 100"):
        rules.validate_display_name("x" * 101)
    with pytest.raises(InvalidArgument, match="control"):
        rules.validate_display_name("Fleet\x00Ltd")


def test_simulated_devices_identifiers_are_accepted() -> None:
    for index in range(50):
        gt06 = gt06_identity(7, index)
        assert rules.validate_identifier("gt06", gt06.identifier) == gt06.identifier
        jt808 = jt808_identity(7, index)
        assert rules.validate_identifier("jt808", jt808.identifier) == jt808.identifier


def test_gt06_accepts_imeis_with_a_wrong_check_digit_as_real_clones_send() -> None:
    # 86812000000000 + Luhn digit 5 is valid; 6 is not, and is still accepted
    assert rules.validate_identifier("gt06", "868120000000006") == "868120000000006"
    assert rules.validate_identifier("gt06", "1868120000000005") == "1868120000000005"


@pytest.mark.parametrize(
    ("protocol", "bad"),
    [
        ("gt06", "86812000000000"),
        ("gt06", "86812000000000A"),
        ("gt06", "".join(chr(0xFF10 + int(d)) for d in "868120000000005")),  # full-width
        ("jt808", ""),
        ("jt808", "0139-1234567"),
        ("jt808", "1" * 21),
        ("osmand", ""),
        ("osmand", "no-digits"),
        ("osmand", "x1" * 65),
        ("osmand", "a\x01b1"),
        ("teltonika", "123456789012345"),
    ],
)
def test_bad_identifiers_are_refused_per_protocol(protocol: str, bad: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        rules.validate_identifier(protocol, bad)
    if len(bad) > 3:
        assert bad not in str(refused.value)


def test_jt808_terminal_ids_are_taken_as_sent() -> None:
    assert rules.validate_identifier("jt808", "013912345678") == "013912345678"
    assert rules.validate_identifier("jt808", "00000000013912345678") == "00000000013912345678"
    assert rules.validate_identifier("osmand", "123456") == "123456"
    assert rules.validate_identifier("osmand", "car-17") == "car-17"


def test_time_zones_must_be_iana() -> None:
    assert rules.validate_timezone("Asia/Shanghai") == "Asia/Shanghai"
    assert rules.validate_timezone("") == "UTC"
    assert rules.validate_timezone("America/Argentina/Buenos_Aires")
    for bad in (
        "Mars/Olympus",
        "GMT+25",
        "../etc/passwd",
        "localtime",
        "posixrules",
        "Europe",
        "Europe/Berlin\x00",
        "x" * 5000,
    ):
        with pytest.raises(InvalidArgument, match="IANA"):
            rules.validate_timezone(bad)


@pytest.mark.parametrize(
    ("parent", "child", "allowed"),
    [
        (AccountKind.PLATFORM, AccountKind.DISTRIBUTOR, True),
        (AccountKind.PLATFORM, AccountKind.ENTERPRISE, True),
        (AccountKind.PLATFORM, AccountKind.END_USER, True),
        (AccountKind.DISTRIBUTOR, AccountKind.DISTRIBUTOR, True),
        (AccountKind.DISTRIBUTOR, AccountKind.ENTERPRISE, True),
        (AccountKind.DISTRIBUTOR, AccountKind.END_USER, True),
        (AccountKind.ENTERPRISE, AccountKind.END_USER, True),
        (AccountKind.ENTERPRISE, AccountKind.ENTERPRISE, False),
        (AccountKind.ENTERPRISE, AccountKind.DISTRIBUTOR, False),
        (AccountKind.END_USER, AccountKind.END_USER, False),
        (AccountKind.END_USER, AccountKind.ENTERPRISE, False),
        (AccountKind.DISTRIBUTOR, AccountKind.PLATFORM, False),
        (AccountKind.PLATFORM, AccountKind.PLATFORM, False),
    ],
)
def test_the_tree_nests_platform_distributor_enterprise_end_user(
    parent: AccountKind, child: AccountKind, allowed: bool
) -> None:
    if allowed:
        rules.check_child(account(parent), child)
    else:
        with pytest.raises(InvalidArgument):
            rules.check_child(account(parent), child)


def test_a_disabled_parent_gets_no_children() -> None:
    with pytest.raises(FailedPrecondition, match="disabled"):
        rules.check_child(account(AccountKind.DISTRIBUTOR, disabled=True), AccountKind.END_USER)


def test_ancestors_are_the_parents_ancestors_then_the_parent() -> None:
    root = account(AccountKind.PLATFORM, account_id="root")
    distributor = account(
        AccountKind.DISTRIBUTOR, account_id="d", ancestors=rules.ancestors_of(root)
    )
    enterprise = account(
        AccountKind.ENTERPRISE, account_id="e", ancestors=rules.ancestors_of(distributor)
    )
    assert rules.ancestors_of(root) == ("root",)
    assert rules.ancestors_of(enterprise) == ("root", "d", "e")
    assert rules.is_within(enterprise, "root") and rules.is_within(enterprise, "d")
    assert rules.is_within(enterprise, "e")
    assert not rules.is_within(distributor, "e")


def test_share_link_expiry_is_in_the_future_and_at_most_seven_days_ahead() -> None:
    week = timedelta(days=7)
    rules.check_share_link_expiry(NOW + week, now=NOW, max_ahead=week)
    with pytest.raises(InvalidArgument, match="at most 7 days"):
        rules.check_share_link_expiry(NOW + week + timedelta(seconds=1), now=NOW, max_ahead=week)
    with pytest.raises(InvalidArgument, match="future"):
        rules.check_share_link_expiry(NOW, now=NOW, max_ahead=week)


def test_recipients_must_be_enabled_and_shares_not_go_to_the_owner() -> None:
    target = account(AccountKind.END_USER, account_id="t")
    rules.check_recipient(target, owner_account_id="o", action="share")
    with pytest.raises(InvalidArgument, match="owner"):
        rules.check_recipient(target, owner_account_id="t", action="share")
    with pytest.raises(FailedPrecondition, match="disabled"):
        rules.check_recipient(
            account(AccountKind.END_USER, disabled=True), owner_account_id="o", action="transfer"
        )
    with pytest.raises(InvalidArgument, match="future"):
        rules.check_future(NOW - timedelta(seconds=1), field="until_time", now=NOW)
