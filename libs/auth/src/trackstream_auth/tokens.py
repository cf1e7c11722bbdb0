"""Access tokens and share-link tokens: EdDSA JWTs with the claims both sides agree on.

Access token: ``typ`` "access", ``sub`` account id, ``sid`` session id (what revocation names),
``jti``, ``iat``, ``exp``, ``iss``. Share-link token: ``typ`` "share", ``sub`` device id, ``jti``
link id (what revocation names), ``iat``, ``exp``, ``iss``. Verification checks signature, issuer,
type and expiry; revocation is the caller's (a set of revoked credential ids).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from trackstream_auth.keys import SigningKey

ISSUER = "trackstream-identity"
ACCESS = "access"
SHARE = "share"
_ALGORITHMS = ["EdDSA"]
#: clock skew tolerated between identity and the verifier
LEEWAY_S = 5


class InvalidToken(Exception):
    """Not a token we issued, tampered with, of the wrong type, or expired."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    account_id: str
    session_id: str
    token_id: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ShareClaims:
    link_id: str
    device_id: str
    issued_at: datetime
    expires_at: datetime


class TokenSigner:
    def __init__(self, key: SigningKey, *, issuer: str = ISSUER) -> None:
        self._key = key
        self._issuer = issuer

    def _sign(self, claims: dict[str, object]) -> str:
        return jwt.encode(
            {"iss": self._issuer, **claims},
            self._key.private_key,
            algorithm="EdDSA",
            headers={"kid": self._key.kid},
        )

    def access_token(
        self, account_id: str, session_id: str, *, now: datetime, lifetime: timedelta
    ) -> tuple[str, AccessClaims]:
        claims = AccessClaims(
            account_id=account_id,
            session_id=session_id,
            token_id=str(uuid.uuid4()),
            issued_at=now,
            expires_at=now + lifetime,
        )
        token = self._sign(
            {
                "typ": ACCESS,
                "sub": account_id,
                "sid": session_id,
                "jti": claims.token_id,
                "iat": int(now.timestamp()),
                "exp": int(claims.expires_at.timestamp()),
            }
        )
        return token, claims

    def share_token(
        self, link_id: str, device_id: str, *, now: datetime, expires_at: datetime
    ) -> str:
        return self._sign(
            {
                "typ": SHARE,
                "sub": device_id,
                "jti": link_id,
                "iat": int(now.timestamp()),
                "exp": int(expires_at.timestamp()),
            }
        )


class TokenVerifier:
    """Verifies tokens against a JWKS (public keys by kid)."""

    def __init__(self, keys: dict[str, Ed25519PublicKey], *, issuer: str = ISSUER) -> None:
        self._keys = dict(keys)
        self._issuer = issuer

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def replace_keys(self, keys: dict[str, Ed25519PublicKey]) -> None:
        self._keys = dict(keys)

    def unknown_key(self, token: str) -> bool:
        """Whether the token names a key this verifier lacks (time to refetch the JWKS)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return False
        return isinstance(kid, str) and kid not in self._keys

    def _decode(self, token: str, expected_type: str, now: datetime | None) -> dict[str, object]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise InvalidToken("signed by an unknown key")
            claims: dict[str, object] = jwt.decode(
                token,
                key,
                algorithms=_ALGORITHMS,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "jti", "typ"], "verify_exp": now is None},
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidToken("expired") from error
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from error
        if claims.get("typ") != expected_type:
            raise InvalidToken(f"wrong token type (want {expected_type!r})")
        exp = claims["exp"]
        if now is not None and isinstance(exp, int | float) and exp + LEEWAY_S <= now.timestamp():
            raise InvalidToken("expired")
        return claims

    def verify_access(self, token: str, *, now: datetime | None = None) -> AccessClaims:
        claims = self._decode(token, ACCESS, now)
        sid = claims.get("sid")
        if not isinstance(sid, str) or not sid:
            raise InvalidToken("no session")
        return AccessClaims(
            account_id=str(claims["sub"]),
            session_id=sid,
            token_id=str(claims["jti"]),
            issued_at=_time(claims["iat"]),
            expires_at=_time(claims["exp"]),
        )

    def verify_share(self, token: str, *, now: datetime | None = None) -> ShareClaims:
        claims = self._decode(token, SHARE, now)
        return ShareClaims(
            link_id=str(claims["jti"]),
            device_id=str(claims["sub"]),
            issued_at=_time(claims["iat"]),
            expires_at=_time(claims["exp"]),
        )


def _time(value: object) -> datetime:
    if not isinstance(value, int | float):
        raise InvalidToken("a time claim is not a number")
    return datetime.fromtimestamp(value, tz=UTC)
