"""A data subject's identifier closure: what the scanner looks for.

The closure comes from the identity service (or the operator) as JSON; see README.md. Each
identifier gets a *reference* ``<kind>:<index>`` (``email:0``, ``device_identifier:1``), and
the report names identifiers only by reference: a report that repeated an IMEI or an e-mail
would itself be a copy of what the erasure removed.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from enum import StrEnum


class IdentifierKind(StrEnum):
    #: account ids, device ids, sub-account ids: pseudonymous ids, usually UUID strings
    ID = "id"
    #: a device's own identifier: a GT06 IMEI or a JT/T 808 terminal phone number
    DEVICE_IDENTIFIER = "device_identifier"
    #: a person's phone number
    PHONE = "phone"
    EMAIL = "email"
    PLATE = "plate"
    NAME = "name"
    #: trackstream_events.pseudonyms.identifier_hmac of a device identifier (derived, not given)
    IDENTIFIER_HMAC = "identifier_hmac"


#: the JSON fields of a closure, in the order their identifiers are numbered
FIELDS: dict[str, IdentifierKind] = {
    "ids": IdentifierKind.ID,
    "device_identifiers": IdentifierKind.DEVICE_IDENTIFIER,
    "phones": IdentifierKind.PHONE,
    "emails": IdentifierKind.EMAIL,
    "plates": IdentifierKind.PLATE,
    "names": IdentifierKind.NAME,
}

#: shorter identifiers would match all over unrelated data ("Li", "B 1")
MIN_IDENTIFIER_CHARS = 4
_DIGIT_KINDS = {IdentifierKind.DEVICE_IDENTIFIER, IdentifierKind.PHONE}


class SubjectError(ValueError):
    """The closure is unusable; the message says which field and why (never the value)."""


@dataclass(frozen=True, slots=True)
class Identifier:
    kind: IdentifierKind
    index: int
    value: str

    @property
    def ref(self) -> str:
        return f"{self.kind.value}:{self.index}"

    @property
    def uuid(self) -> uuid.UUID | None:
        """The value as a UUID, when it is one (any of the usual spellings)."""
        try:
            return uuid.UUID(self.value)
        except ValueError:
            return None

    @property
    def digits(self) -> str:
        return "".join(ch for ch in self.value if ch.isascii() and ch.isdigit())


@dataclass(frozen=True, slots=True)
class Subject:
    identifiers: tuple[Identifier, ...]

    def of_kind(self, kind: IdentifierKind) -> tuple[Identifier, ...]:
        return tuple(i for i in self.identifiers if i.kind is kind)

    def counts(self) -> dict[str, int]:
        return {kind.value: n for kind in IdentifierKind if (n := len(self.of_kind(kind))) > 0}


def parse_subject(document: object) -> Subject:
    """A closure from its JSON object; unknown fields and unusable values are errors."""
    if not isinstance(document, dict):
        raise SubjectError("a subject closure is a JSON object")
    unknown = sorted(set(document) - set(FIELDS))
    if unknown:
        raise SubjectError(f"unknown fields {unknown}; expected some of {sorted(FIELDS)}")
    identifiers: list[Identifier] = []
    for field, kind in FIELDS.items():
        values: object = document.get(field, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SubjectError(f"{field} must be a list of strings")
        seen: set[str] = set()
        for position, raw in enumerate(values):
            value = raw.strip()
            if len(value) < MIN_IDENTIFIER_CHARS:
                raise SubjectError(
                    f"{field}[{position}] has {len(value)} characters; at least "
                    f"{MIN_IDENTIFIER_CHARS} are needed to search for it"
                )
            if kind in _DIGIT_KINDS and sum(ch.isdigit() for ch in value) < MIN_IDENTIFIER_CHARS:
                raise SubjectError(f"{field}[{position}] needs at least 4 digits")
            if kind is IdentifierKind.EMAIL and "@" not in value:
                raise SubjectError(f"{field}[{position}] is not an e-mail address")
            if value in seen:
                continue
            seen.add(value)
            identifiers.append(Identifier(kind, len(seen) - 1, value))
    if not identifiers:
        raise SubjectError("the closure holds no identifier")
    return Subject(tuple(identifiers))


def load_subject(text: str) -> Subject:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise SubjectError(f"the closure is not JSON: {err.msg} at line {err.lineno}") from None
    return parse_subject(document)
