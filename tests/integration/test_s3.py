"""Objects through the real S3 store (SeaweedFS), presigned URLs over HTTP, credentials."""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import pytest
from pydantic import SecretStr

from trackstream_events.catalog import BUCKETS
from trackstream_s3 import (
    HashedPut,
    S3CredentialsError,
    S3PutFailed,
    S3Settings,
    ensure_buckets,
    make_client,
)


def test_object_round_trip_and_presigned_get(s3_settings: S3Settings) -> None:
    client = make_client(s3_settings)
    ensure_buckets(client, s3_settings, BUCKETS)
    key = f"tests/{uuid.uuid4()}/photo.jpg"
    payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
    client.put_object(
        "trackstream-media",
        key,
        io.BytesIO(payload),
        len(payload),
        content_type="image/jpeg",
        metadata={"device-id": "dev-42"},
    )
    try:
        stat = client.stat_object("trackstream-media", key)
        assert stat.size == len(payload)
        assert stat.metadata is not None
        assert stat.metadata["x-amz-meta-device-id"] == "dev-42"
        response = client.get_object("trackstream-media", key)
        try:
            assert response.read() == payload
        finally:
            response.close()
            response.release_conn()

        url = client.presigned_get_object("trackstream-media", key, expires=timedelta(minutes=5))
        with urllib.request.urlopen(url, timeout=10) as fetched:
            assert fetched.status == 200
            assert fetched.read() == payload
        tampered = url.replace("photo.jpg", "other.jpg")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(tampered, timeout=10)
        assert refused.value.code == 403
    finally:
        client.remove_object("trackstream-media", key)
    assert not list(client.list_objects("trackstream-media", prefix=key))


def test_wrong_credentials_give_an_actionable_error(s3_settings: S3Settings) -> None:
    wrong = s3_settings.model_copy(update={"secret_key": SecretStr("not-the-secret")})
    with pytest.raises(S3CredentialsError, match="check S3_ACCESS_KEY and S3_SECRET_KEY"):
        ensure_buckets(make_client(wrong), wrong, BUCKETS)


def test_a_put_signed_over_the_callers_hash_stores_the_bytes(s3_settings: S3Settings) -> None:
    client = make_client(s3_settings)
    ensure_buckets(client, s3_settings, BUCKETS)
    key = f"tests/{uuid.uuid4()}/hashed photo+1.jpg"  # a space and a plus: quoted when signed
    payload = bytes(range(256)) * 4096
    HashedPut(s3_settings).put(
        "trackstream-media",
        key,
        payload,
        content_type="image/jpeg",
        sha256_hex=hashlib.sha256(payload).hexdigest(),
    )
    try:
        stat = client.stat_object("trackstream-media", key)
        assert stat.size == len(payload) and stat.content_type == "image/jpeg"
        response = client.get_object("trackstream-media", key)
        try:
            assert response.read() == payload
        finally:
            response.close()
    finally:
        client.remove_object("trackstream-media", key)


def test_a_hashed_put_with_wrong_keys_fails_loudly(s3_settings: S3Settings) -> None:
    wrong = s3_settings.model_copy(update={"secret_key": SecretStr("not-the-secret")})
    with pytest.raises(S3PutFailed) as failed:
        HashedPut(wrong).put(
            "trackstream-media",
            f"tests/{uuid.uuid4()}/x.jpg",
            b"x",
            content_type="image/jpeg",
            sha256_hex=hashlib.sha256(b"x").hexdigest(),
        )
    assert failed.value.status == 403
