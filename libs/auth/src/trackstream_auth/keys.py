"""Ed25519 signing keys and their public JSON Web Key Set (RFC 7517, RFC 8037).

Identity holds the private key (a PEM file, ``IDENTITY_SIGNING_KEY_FILE``); every service that
verifies tokens needs only the JWKS. A key's id is its RFC 7638 thumbprint, so rotating keys
is publishing a set with the new and the old one until the old one's tokens have expired.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    x = _b64url(_raw_public(key))
    # RFC 7638: the required members, lexicographic order, no whitespace
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    kid = _b64url(hashlib.sha256(canonical.encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}


@dataclass(frozen=True, slots=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    kid: str

    @classmethod
    def of(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        return cls(private_key, public_jwk(private_key.public_key())["kid"])

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.of(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key must be an Ed25519 private key (PEM, PKCS#8)")
        return cls.of(key)

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """Read the key at ``path``; create it (mode 0600) when the file does not exist."""
        if path.exists():
            return cls.from_pem(path.read_bytes())
        key = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(key.pem())
        return key

    def pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self.private_key.public_key())


def jwks_json(keys: list[SigningKey]) -> str:
    """The public JWKS of these keys (the current one first)."""
    return json.dumps({"keys": [k.public_jwk() for k in keys]}, separators=(",", ":"))


def parse_jwks(text: str) -> dict[str, Ed25519PublicKey]:
    """Public keys by kid; keys of other types are ignored, a malformed set raises ValueError."""
    try:
        document = json.loads(text)
        entries = document["keys"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"not a JSON Web Key Set: {error}") from error
    keys: dict[str, Ed25519PublicKey] = {}
    for entry in entries:
        if (
            not isinstance(entry, dict)
            or entry.get("kty") != "OKP"
            or entry.get("crv") != "Ed25519"
        ):
            continue
        key = Ed25519PublicKey.from_public_bytes(_b64url_decode(str(entry["x"])))
        keys[str(entry.get("kid") or public_jwk(key)["kid"])] = key
    return keys
