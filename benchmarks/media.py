"""Media: upload MB/s through the media service (a Jimi dashcam's multipart HTTP upload on its
port: parse, resolve the device, store in S3, verify nothing, catalogue in Cassandra, announce
on Kafka acks=all), the service in its own process, against a raw minio ``put_object`` loop on
the same data, same object store, same concurrency. Nine rounds alternate (raw, service, ...),
after an untimed warm-up round on each side (connection pools, worker threads, prepared
statements); the ratio is the median of each service round against the raw round just before
it (a shared machine's load swings a round threefold; pairs see the same moment). A round is 24
files (about half a second on each side): with 12, one stall of the store or the machine decided
a round. A run writes about 460 MB and deletes it again; SeaweedFS reclaims deleted bytes only
when it vacuums (every 15 minutes by default)."""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
from minio.deleteobjects import DeleteObject

from benchmarks.common import Result
from benchmarks.ingest_process import KEY, free_port, register
from media.handlers import ALARMS_TOPIC, COMMAND_RESULTS, MEDIA_TOPIC
from trackstream.media.v1 import media_service_pb2 as pb
from trackstream.media.v1 import media_service_pb2_grpc as pb_grpc
from trackstream_kafka import KafkaSettings
from trackstream_kafka.admin import start_group_at_end
from trackstream_s3 import S3Settings, make_client

TARGET = 0.7
BUCKET = "trackstream-media"
FILE_BYTES = 1024 * 1024
FILES = 24
CONCURRENCY = 4
ROUNDS = 9
BOUNDARY = "media-bench-boundary"
MEDIA_TOPICS = (MEDIA_TOPIC, COMMAND_RESULTS, ALARMS_TOPIC)


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _multipart(imei: str, data: bytes) -> bytes:
    callback = json.dumps({"imei": imei, "mimeType": "image/jpeg"})
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="callbackBody"\r\n\r\n'
            f'{callback}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            'filename="alarm.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def _files(tag: str) -> list[bytes]:
    """Distinct files per round (a repeated file would land on the same key)."""
    return [tag.encode() + os.urandom(FILE_BYTES - len(tag)) for _ in range(FILES)]


def _rate(
    upload: Callable[[int, bytes], None], files: list[bytes], *, payload_bytes: int | None = None
) -> float:
    """MB/s of file payload (``payload_bytes`` each when ``files`` are whole requests)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(upload, range(len(files)), files))
    elapsed = time.perf_counter() - started
    total = sum(len(f) for f in files) if payload_bytes is None else payload_bytes * len(files)
    return total / elapsed / 1e6


def run() -> Result:
    client = make_client(S3Settings())
    run_id = uuid.uuid4().hex[:8]
    imei, device_id = "86" + str(uuid.uuid4().int)[:13], f"bench-media-{run_id}"
    asyncio.run(register({imei: device_id}))
    # the service's consumer starts at the end of its topics: replaying the shared stack's
    # backlog (a day of alarms, uploads to verify) is not the upload path being measured
    group = f"media-bench-{run_id}"
    asyncio.run(start_group_at_end(KafkaSettings(), group, *MEDIA_TOPICS))
    http_port, ops_port, grpc_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "MEDIA_HTTP_HOST": "127.0.0.1",
        "MEDIA_HTTP_PORT": str(http_port),
        "MEDIA_GRPC_PORT": str(grpc_port),
        "MEDIA_OPS_PORT": str(ops_port),
        "MEDIA_CONSUMER_GROUP": group,
        "MEDIA_IDENTIFIER_KEY": KEY.decode(),
        "MEDIA_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "media"], env=env)
    raw_prefix = f"bench-raw-{run_id}/"
    try:
        deadline = time.monotonic() + 180
        while not _ready(ops_port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the media process did not become ready")
            time.sleep(0.2)

        def raw_put(n: int, data: bytes) -> None:
            client.put_object(
                BUCKET,
                f"{raw_prefix}{n}-{data[:8].hex()}.jpg",
                io.BytesIO(data),
                len(data),
                content_type="image/jpeg",
            )

        def service_put(n: int, body: bytes) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=60)
            try:
                connection.request(
                    "POST",
                    "/upload",
                    body=body,
                    headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                )
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200:
                    raise RuntimeError(f"upload refused: {response.status} {answer[:200]!r}")
            finally:
                connection.close()

        # steady state on both sides: connection pools, worker threads and the service's
        # prepared statements are set up by one untimed upload each
        warm_up = _files("warm")[:CONCURRENCY]
        _rate(raw_put, warm_up)
        _rate(service_put, [_multipart(imei, f) for f in warm_up], payload_bytes=FILE_BYTES)
        raw_rates, service_rates = [], []
        for round_ in range(ROUNDS):
            raw_rates.append(_rate(raw_put, _files(f"r{round_}")))
            # the requests are built before the clock starts, as the raw side's files are: the
            # client's copy into a multipart body is not the service's work
            bodies = [_multipart(imei, f) for f in _files(f"s{round_}")]
            service_rates.append(_rate(service_put, bodies, payload_bytes=FILE_BYTES))
        # each service round against the raw round just before it (the same moment of a shared
        # machine's load), and the median of those ratios: one noisy round moves nothing
        ratio = statistics.median(s / r for s, r in zip(service_rates, raw_rates, strict=True))
        return Result(
            name="media_upload",
            value=statistics.median(service_rates),
            baseline=statistics.median(raw_rates),
            unit="MB/s",
            ratio=ratio,
            target=TARGET,
            details={
                "file_bytes": FILE_BYTES,
                "files_per_round": FILES,
                "concurrency": CONCURRENCY,
                "raw_mb_s_per_round": [round(r, 1) for r in raw_rates],
                "service_mb_s_per_round": [round(r, 1) for r in service_rates],
            },
        )
    finally:
        targets = [
            DeleteObject(o.object_name or "", o.version_id)
            for o in client.list_objects(BUCKET, prefix=raw_prefix, recursive=True)
        ]
        if targets:
            list(client.remove_objects(BUCKET, targets))
        if process.poll() is None:
            asyncio.run(_erase(grpc_port, device_id))
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


async def _erase(port: int, device_id: str) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await pb_grpc.MediaServiceStub(channel).EraseDevice(
            pb.EraseDeviceRequest(device_id=device_id)
        )


if __name__ == "__main__":
    print(run().line())
