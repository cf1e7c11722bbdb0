"""A PUT of bytes whose SHA-256 the caller already holds.

minio's ``put_object`` hashes the payload itself for the SigV4 signature on a plain-HTTP
endpoint (``x-amz-content-sha256``). A service that hashes every object anyway (media keys and
catalogues objects by their SHA-256) would hash each byte twice; here the request is signed
over the caller's hash instead (minio's own signer), so a store that checks the payload against
``x-amz-content-sha256`` (AWS S3, MinIO) refuses bytes that do not match it. Path-style URLs,
retries on 5xx as minio's client does."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import urllib3
from minio.credentials.credentials import Credentials
from minio.signer import sign_v4_s3
from minio.time import to_amz_date

from trackstream_s3.store import S3Settings


class S3PutFailed(Exception):
    """The store answered the PUT with an error status."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"S3 PUT failed with {status}: {detail}")
        self.status = status


class HashedPut:
    def __init__(self, settings: S3Settings, *, pool_size: int = 10) -> None:
        scheme = "https" if settings.secure else "http"
        self._base = f"{scheme}://{settings.endpoint}"
        self._region = settings.region
        self._credentials = Credentials(settings.access_key, settings.secret_key.get_secret_value())
        self._http = urllib3.PoolManager(
            maxsize=pool_size,
            retries=urllib3.Retry(
                total=5, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )

    def put(
        self, bucket: str, key: str, data: bytes, *, content_type: str, sha256_hex: str
    ) -> None:
        """Blocking (run it in a worker thread). ``sha256_hex`` must be the data's SHA-256."""
        url = urlsplit(f"{self._base}/{quote(bucket)}/{quote(key, safe='/')}")
        date = datetime.now(UTC)
        headers: dict[str, str | list[str] | tuple[str]] = {
            "Host": url.netloc,
            "Content-Type": content_type,
            "Content-Length": str(len(data)),
            "x-amz-content-sha256": sha256_hex,
            "x-amz-date": to_amz_date(date),
        }
        signed = sign_v4_s3(
            method="PUT",
            url=url,
            region=self._region,
            headers=headers,
            credentials=self._credentials,
            content_sha256=sha256_hex,
            date=date,
        )
        flat = {name: str(value) for name, value in signed.items()}  # all single values here
        response = self._http.request("PUT", url.geturl(), body=data, headers=flat)
        if response.status >= 300:
            raise S3PutFailed(response.status, response.data[:300].decode("utf-8", "replace"))
