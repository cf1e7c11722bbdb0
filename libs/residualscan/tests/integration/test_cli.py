"""The command line end to end on all three stores: exit 1 with every planted hit while the
subject's data is there, exit 0 once it is removed; the report's digest is the digest of its
hit list, and neither the report nor the logs repeat an identifier."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from cassandra.cluster import Session
from minio import Minio

from libs.residualscan.tests.integration.test_scan_cassandra import _plant as plant_rows
from libs.residualscan.tests.integration.test_scan_kafka import _plant as plant_records
from libs.residualscan.tests.integration.test_scan_s3 import _plant as plant_objects
from libs.residualscan.tests.subjects import IDENTIFIER_KEY, fresh_closure
from trackstream_kafka.settings import KafkaSettings
from trackstream_residual_scan.report import canonical
from trackstream_residual_scan.subject import IdentifierKind, parse_subject
from trackstream_s3 import S3Settings


def _run(closure: Path, report: Path, stores: list[str], s3: S3Settings) -> tuple[int, str]:
    env = dict(
        os.environ,
        S3_ENDPOINT=s3.endpoint,
        RESIDUAL_SCAN_IDENTIFIER_KEY=IDENTIFIER_KEY.decode(),
    )
    command = [sys.executable, "-m", "trackstream_residual_scan"]
    command += ["--subject", str(closure), "--output", str(report), *stores]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    return done.returncode, done.stdout + done.stderr


async def test_cli_on_all_three_stores(
    kafka_settings: KafkaSettings,
    topic: str,
    keyspace: tuple[Session, str],
    bucket: tuple[Minio, str],
    s3_settings: S3Settings,
    tmp_path: Path,
) -> None:
    closure = fresh_closure()
    subject = parse_subject(closure)
    (tmp_path / "closure.json").write_text(json.dumps(closure))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        records = await plant_records(producer, topic, 0, subject)
    finally:
        await producer.stop()
    session, ks = keyspace
    rows = plant_rows(session, ks, subject)
    client, name = bucket
    key, _ = plant_objects(client, name, subject)
    stores = ["--topic", topic, "--keyspace", ks, "--bucket", name, "--label", "erasure-42"]

    rc, output = _run(tmp_path / "closure.json", tmp_path / "before.json", stores, s3_settings)
    report = json.loads((tmp_path / "before.json").read_text())
    assert rc == 1, output
    by_store = {s: sum(1 for h in report["hits"] if h["store"] == s) for s in report["stores"]}
    # s3: the key in 2 versions and the marker, metadata, the IMEI and the name in the content
    assert by_store == {"kafka": len(records), "cassandra": len(rows), "s3": 6}
    assert report["hits_sha256"] == hashlib.sha256(canonical(report["hits"]).encode()).hexdigest()
    assert report["subject"]["identifier_hmac_searched"] is True
    assert report["label"] == "erasure-42"
    assert report["summary"]["s3"]["id:1"] == {"utf8": 3}  # 2 versions and the marker
    assert report["summary"]["kafka"]["identifier_hmac:0"] == {"hmac-bytes": 1}
    text = (tmp_path / "before.json").read_text() + output
    assert not [i.value for i in subject.identifiers if i.value.lower() in text.lower()]

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before_offset=7)})
    finally:
        await admin.close()
    device = subject.of_kind(IdentifierKind.ID)[1].value
    email = subject.of_kind(IdentifierKind.EMAIL)[0].value
    session.execute(
        f"DELETE FROM {ks}.device_days WHERE device_id = %s AND day = '2026-11-29'", [device]
    )
    session.execute(f"DELETE FROM {ks}.accounts_by_email WHERE email = %s", [email])
    for obj in client.list_objects(name, prefix=key, recursive=True, include_version=True):
        client.remove_object(name, obj.object_name, version_id=obj.version_id)

    rc, output = _run(tmp_path / "closure.json", tmp_path / "after.json", stores, s3_settings)
    after = json.loads((tmp_path / "after.json").read_text())
    assert rc == 0, output
    assert after["hits"] == [] and after["errors"] == []
    assert after["hits_sha256"] == hashlib.sha256(b"[]").hexdigest()
    assert after["stores"]["kafka"]["topics"][topic][0]["start_offset"] == 7
    assert after["stores"]["cassandra"]["table_count"] == 2
    assert after["stores"]["s3"]["buckets"][0]["bucket"] == name
