"""Opaque page tokens: clients pass back what they got, and cannot forge anything useful."""

from __future__ import annotations

import base64
import binascii
import bisect
import json

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class BadPageToken(ValueError):
    pass


def encode_token(kind: str, value: str) -> str:
    raw = json.dumps({"k": kind, "v": value}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_token(kind: str, token: str) -> str:
    """The value a token of ``kind`` carries; BadPageToken if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document = json.loads(raw)
        if document.get("k") != kind or not isinstance(document.get("v"), str):
            raise BadPageToken("page_token is not from this listing")
        return str(document["v"])
    except (binascii.Error, ValueError, AttributeError, UnicodeDecodeError) as err:
        if isinstance(err, BadPageToken):
            raise
        raise BadPageToken("page_token is not valid") from None


def page_after(ids: list[str], after: str | None, size: int) -> tuple[list[str], str | None]:
    """The ``size`` ids after ``after`` (ids sorted), and the last one when more follow."""
    start = 0
    if after is not None:
        start = bisect.bisect_right(ids, after)
    page = ids[start : start + size]
    more = start + size < len(ids)
    return page, (page[-1] if more and page else None)
