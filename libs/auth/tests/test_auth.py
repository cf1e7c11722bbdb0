from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trackstream_auth import (
    InvalidToken,
    MalformedApiKey,
    SigningKey,
    TokenSigner,
    TokenVerifier,
    jwks_json,
    key_id_of,
    matches,
    new_api_key,
    parse_jwks,
)

#: when the tokens are issued; verified at this time too (the suite may reach a test minutes
#: after this module was imported), except where the real clock is the point
NOW = datetime.now(UTC).replace(microsecond=0)


def verifier_for(*keys: SigningKey) -> TokenVerifier:
    return TokenVerifier(parse_jwks(jwks_json(list(keys))))


def test_access_token_round_trips_its_claims() -> None:
    key = SigningKey.generate()
    token, issued = TokenSigner(key).access_token(
        "acc-1", "sess-1", now=NOW, lifetime=timedelta(minutes=15)
    )
    claims = verifier_for(key).verify_access(token, now=NOW)
    assert claims == issued
    assert claims.expires_at - claims.issued_at == timedelta(minutes=15)


def test_a_token_signed_by_another_key_is_refused() -> None:
    token, _ = TokenSigner(SigningKey.generate()).access_token(
        "a", "s", now=NOW, lifetime=timedelta(minutes=1)
    )
    verifier = verifier_for(SigningKey.generate())
    assert verifier.unknown_key(token)
    with pytest.raises(InvalidToken, match="unknown key"):
        verifier.verify_access(token)


def test_a_tampered_token_is_refused() -> None:
    key = SigningKey.generate()
    token, _ = TokenSigner(key).access_token("a", "s", now=NOW, lifetime=timedelta(minutes=1))
    header, payload, signature = token.split(".")
    forged = ".".join(
        [header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")]
    )
    with pytest.raises(InvalidToken):
        verifier_for(key).verify_access(forged)


def test_expiry_is_enforced_at_the_given_time() -> None:
    key = SigningKey.generate()
    token, _ = TokenSigner(key).access_token("a", "s", now=NOW, lifetime=timedelta(minutes=1))
    verifier = verifier_for(key)
    verifier.verify_access(token, now=NOW + timedelta(seconds=30))
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify_access(token, now=NOW + timedelta(minutes=2))


def test_a_really_expired_token_is_refused_by_the_clock() -> None:
    key = SigningKey.generate()
    past = NOW - timedelta(hours=1)
    token, _ = TokenSigner(key).access_token("a", "s", now=past, lifetime=timedelta(minutes=1))
    with pytest.raises(InvalidToken, match="expired"):
        verifier_for(key).verify_access(token)


def test_share_and_access_tokens_cannot_stand_in_for_each_other() -> None:
    key = SigningKey.generate()
    signer = TokenSigner(key)
    share = signer.share_token("link-1", "dev-1", now=NOW, expires_at=NOW + timedelta(hours=1))
    access, _ = signer.access_token("a", "s", now=NOW, lifetime=timedelta(minutes=1))
    verifier = verifier_for(key)
    claims = verifier.verify_share(share, now=NOW)
    assert (claims.link_id, claims.device_id) == ("link-1", "dev-1")
    with pytest.raises(InvalidToken, match=r"want 'access'"):
        verifier.verify_access(share, now=NOW)
    with pytest.raises(InvalidToken, match=r"want 'share'"):
        verifier.verify_share(access, now=NOW)


def test_jwks_holds_public_keys_only_with_thumbprint_ids() -> None:
    old, new = SigningKey.generate(), SigningKey.generate()
    document = json.loads(jwks_json([new, old]))
    assert [k["kid"] for k in document["keys"]] == [new.kid, old.kid]
    assert all(set(k) == {"kty", "crv", "x", "kid", "alg", "use"} for k in document["keys"])
    token, _ = TokenSigner(old).access_token("a", "s", now=NOW, lifetime=timedelta(minutes=1))
    verifier_for(new, old).verify_access(token, now=NOW)  # rotation: old tokens still verify


def test_malformed_jwks_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="JSON Web Key Set"):
        parse_jwks("{}")


def test_signing_key_is_created_once_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.pem"
    first = SigningKey.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert SigningKey.load_or_create(path).kid == first.kid


def test_a_non_ed25519_pem_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="Ed25519"):
        SigningKey.from_pem(pem)


def test_api_keys_verify_only_with_their_own_secret() -> None:
    key = new_api_key()
    assert key_id_of(key.secret) == key.key_id
    assert matches(key.secret, key.secret_sha256)
    other = new_api_key()
    assert not matches(other.secret, key.secret_sha256)
    assert not matches(key.secret[:-1] + ("A" if key.secret[-1] != "A" else "B"), key.secret_sha256)


@pytest.mark.parametrize(
    "text", ["", "tsk_", "Bearer x", "tsk_zz_" + "a" * 43, "tsk_" + "a" * 32 + "_short"]
)
def test_malformed_api_keys_are_named(text: str) -> None:
    with pytest.raises(MalformedApiKey):
        key_id_of(text)
