"""The rules identity enforces on data, whoever calls: pure functions, no I/O.

Every refusal is a domain error with a one-line reason that names the field, never its value
(the value may be personal data).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import datetime, timedelta
from zoneinfo import available_timezones

from identity.domain.errors import FailedPrecondition, InvalidArgument
from identity.domain.model import Account, AccountKind, AccountRole

MIN_PASSWORD_LENGTH = 10
#: argon2 hashes whatever it is given; a bound keeps one request from costing much more
MAX_PASSWORD_LENGTH = 1024
MAX_DISPLAY_NAME_LENGTH = 100
MAX_DEVICE_NAME_LENGTH = 100
MAX_MODEL_LENGTH = 64
MAX_API_KEY_NAME_LENGTH = 64
MAX_EMAIL_LENGTH = 254
PROTOCOLS = ("gt06", "jt808", "osmand")
#: the identifier osmand accepts (trackstream_protocols.osmand.MAX_IDENTIFIER_LENGTH)
MAX_OSMAND_IDENTIFIER_LENGTH = 128

# one @, no spaces, a dot in the domain, labels of letters, digits and hyphens
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
# ITU-T E.164: "+", a country code not starting with 0, at most 15 digits in all
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


# ---------------------------------------------------------------------------- accounts


def normalise_email(email: str) -> str:
    """What makes two e-mails the same account: trimmed, lower-cased."""
    return email.strip().lower()


def validate_email(email: str) -> str:
    """The normalised e-mail, or InvalidArgument."""
    normalised = normalise_email(email)
    if len(normalised) > MAX_EMAIL_LENGTH or not _EMAIL.match(normalised):
        raise InvalidArgument("email is not an e-mail address (name@domain.tld)")
    return normalised


def validate_phone(phone: str) -> str:
    """An E.164 number ("+491701234567"), or "" for none."""
    if phone == "":
        return ""
    if not _E164.match(phone):
        raise InvalidArgument("phone must be E.164: '+', country code and number, 8-15 digits")
    return phone


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidArgument(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidArgument(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
    return password


def _text(value: str, *, field: str, max_length: int, required: bool) -> str:
    text = unicodedata.normalize("NFC", value.strip())
    if required and not text:
        raise InvalidArgument(f"{field} is required")
    if len(text) > max_length:
        raise InvalidArgument(f"{field} must have at most {max_length} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidArgument(f"{field} must not contain control characters")
    return text


def validate_display_name(name: str) -> str:
    return _text(name, field="display_name", max_length=MAX_DISPLAY_NAME_LENGTH, required=True)


def validate_role(role: int) -> AccountRole:
    """UNSPECIFIED means ADMIN: an account manages its own subtree unless told otherwise."""
    try:
        parsed = AccountRole(role)
    except ValueError:
        raise InvalidArgument("role is not a known AccountRole") from None
    return AccountRole.ADMIN if parsed is AccountRole.UNSPECIFIED else parsed


def validate_kind(kind: int) -> AccountKind:
    try:
        parsed = AccountKind(kind)
    except ValueError:
        raise InvalidArgument("kind is not a known AccountKind") from None
    if parsed is AccountKind.UNSPECIFIED:
        raise InvalidArgument("kind is required")
    return parsed


#: which kinds an account of each kind may have as direct children
_CHILD_KINDS: dict[AccountKind, frozenset[AccountKind]] = {
    AccountKind.PLATFORM: frozenset(
        {AccountKind.DISTRIBUTOR, AccountKind.ENTERPRISE, AccountKind.END_USER}
    ),
    AccountKind.DISTRIBUTOR: frozenset(
        {AccountKind.DISTRIBUTOR, AccountKind.ENTERPRISE, AccountKind.END_USER}
    ),
    AccountKind.ENTERPRISE: frozenset({AccountKind.END_USER}),
    AccountKind.END_USER: frozenset(),
}


def check_child(parent: Account, kind: AccountKind) -> None:
    """Whether ``parent`` may get a direct child of ``kind``: the tree nests PLATFORM >
    DISTRIBUTOR (distributors may nest) > ENTERPRISE > END_USER; a kind may skip levels below
    it (a distributor may serve an end user directly); an END_USER has no children."""
    if kind is AccountKind.PLATFORM:
        raise InvalidArgument("the platform account has no parent (only bootstrap creates it)")
    if parent.disabled:
        raise FailedPrecondition("the parent account is disabled")
    if kind not in _CHILD_KINDS[parent.kind]:
        raise InvalidArgument(
            f"an account of kind {parent.kind.name} cannot have a child of kind {kind.name}"
        )


def ancestors_of(parent: Account) -> tuple[str, ...]:
    """A child's ancestors: its parent's ancestors, then the parent (root first)."""
    return (*parent.ancestor_account_ids, parent.account_id)


def is_within(account: Account, root_account_id: str) -> bool:
    """Whether ``account`` is ``root_account_id`` or sits anywhere below it."""
    return account.account_id == root_account_id or root_account_id in account.ancestor_account_ids


# ---------------------------------------------------------------------------- devices


def _digits(identifier: str, *, field: str, lengths: range, what: str) -> str:
    if not identifier.isascii() or not identifier.isdigit() or len(identifier) not in lengths:
        raise InvalidArgument(f"{field}: {what}")
    return identifier


def validate_identifier(protocol: str, identifier: str) -> str:
    """The identifier as the device sends it, checked per protocol.

    gt06: the IMEI of the login message, 15 digits (16 when the BCD field's first nibble is
    not 0). The Luhn check digit is NOT required: our decoder accepts any BCD, and clone
    devices with an invalid check digit exist; such a device could never be registered.
    jt808: the terminal phone as BCD digits, as sent (12 in the 2013 header, 20 in the 2019
    one; shorter if the installer typed it without the padding zeros): 1-20 digits.
    osmand: its id string (printable, at most 128 characters) with at least one digit, since
    the registry resolves devices by an HMAC of the identifier's digits.
    """
    identifier = identifier.strip()
    if protocol == "gt06":
        return _digits(
            identifier, field="identifier", lengths=range(15, 17), what="a GT06 IMEI has 15 digits"
        )
    if protocol == "jt808":
        return _digits(
            identifier,
            field="identifier",
            lengths=range(1, 21),
            what="a JT/T 808 terminal id has 1-20 digits",
        )
    if protocol == "osmand":
        if not identifier or not identifier.isprintable():
            raise InvalidArgument("identifier: an OsmAnd id is printable text")
        if len(identifier) > MAX_OSMAND_IDENTIFIER_LENGTH:
            raise InvalidArgument(
                f"identifier: an OsmAnd id has at most {MAX_OSMAND_IDENTIFIER_LENGTH} characters"
            )
        if not any(ch.isdigit() for ch in identifier):
            raise InvalidArgument("identifier: an OsmAnd id must contain digits")
        return identifier
    raise InvalidArgument(f"protocol must be one of {', '.join(PROTOCOLS)}")


@functools.cache
def _iana_zones() -> frozenset[str]:
    # the tz database's zones, without the files a machine's zoneinfo folder may hold besides
    # them ("localtime" is whatever the machine is set to) and without "Factory" (no place)
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


def validate_timezone(zone: str) -> str:
    """An IANA zone name ("Asia/Shanghai"); "" means UTC."""
    if zone == "":
        return "UTC"
    if zone not in _iana_zones():
        raise InvalidArgument("device_timezone is not an IANA time zone")
    return zone


def validate_device_name(name: str) -> str:
    return _text(name, field="name", max_length=MAX_DEVICE_NAME_LENGTH, required=False)


def validate_model(model: str) -> str:
    return _text(model, field="model", max_length=MAX_MODEL_LENGTH, required=False)


def validate_api_key_name(name: str) -> str:
    return _text(name, field="name", max_length=MAX_API_KEY_NAME_LENGTH, required=True)


def check_future(when: datetime | None, *, field: str, now: datetime) -> None:
    if when is not None and when <= now:
        raise InvalidArgument(f"{field} must be in the future")


def check_share_link_expiry(expires: datetime, *, now: datetime, max_ahead: timedelta) -> None:
    if expires <= now:
        raise InvalidArgument("expires_time must be in the future")
    if expires > now + max_ahead:
        days = max_ahead.total_seconds() / 86400
        raise InvalidArgument(f"expires_time must be at most {days:g} days ahead")


def check_recipient(account: Account, *, owner_account_id: str, action: str) -> None:
    """The account a device is transferred or shared to: enabled, not the owner."""
    if account.disabled:
        raise FailedPrecondition(f"the account to {action} to is disabled")
    if action == "share" and account.account_id == owner_account_id:
        raise InvalidArgument("a device cannot be shared with its owner")
