"""Credentials shared by identity (which issues them) and the gateway (which verifies them).

:mod:`.keys` (Ed25519 keys, JWKS), :mod:`.tokens` (access and share-link JWTs),
:mod:`.api_keys` (integrators' keys).
"""

from trackstream_auth.api_keys import MalformedApiKey, NewApiKey, key_id_of, matches, new_api_key
from trackstream_auth.keys import SigningKey, jwks_json, parse_jwks
from trackstream_auth.tokens import (
    AccessClaims,
    InvalidToken,
    ShareClaims,
    TokenSigner,
    TokenVerifier,
)

__all__ = [
    "AccessClaims",
    "InvalidToken",
    "MalformedApiKey",
    "NewApiKey",
    "ShareClaims",
    "SigningKey",
    "TokenSigner",
    "TokenVerifier",
    "jwks_json",
    "key_id_of",
    "matches",
    "new_api_key",
    "parse_jwks",
]
