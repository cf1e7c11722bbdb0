"""Bad set-up gives one actionable line: no Java 17, a port already taken, wrong S3 credentials."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack.py"


def _run(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_taken_port_is_named_and_nothing_is_started(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = _run(
            STACK, "up", "kafka", env={"KAFKA_PORT": str(port), "TS_RUN_DIR": str(tmp_path)}
        )
    line = _one_error_line(result)
    assert f"port {port} (broker) is already in use" in line
    assert not (tmp_path / "kafka.pid").exists()


def test_a_java_that_is_not_17_is_refused(tmp_path: Path) -> None:
    fake_home = tmp_path / "jdk21"
    (fake_home / "bin").mkdir(parents=True)
    java = fake_home / "bin" / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"21.0.2\" 2024-01-16' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    result = _run(STACK, "up", env={"JAVA_HOME": str(fake_home), "TS_RUN_DIR": str(tmp_path)})
    line = _one_error_line(result)
    assert "Java 21" in line and "set JAVA_HOME to a JDK 17" in line


def test_no_java_at_all_says_what_to_install(tmp_path: Path) -> None:
    result = _run(
        STACK, "up", env={"JAVA_HOME": str(tmp_path / "missing"), "TS_RUN_DIR": str(tmp_path)}
    )
    line = _one_error_line(result)
    assert "java not found" in line and "OpenJDK 17" in line


def test_wrong_s3_credentials_stop_provisioning_with_one_line() -> None:
    result = _run(
        ROOT / "deploy" / "local" / "provision.py", env={"S3_SECRET_KEY": "not-the-secret"}
    )
    line = _one_error_line(result)
    assert "refused access key" in line and "S3_SECRET_KEY" in line
