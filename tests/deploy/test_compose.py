"""deploy/compose.yaml: the structure `docker compose config` would check, and the local stack's
settings (no Docker here, so the file is checked as data)."""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from tests.deploy.test_dockerfile import make_images
from tests.deploy.workspace import COMPOSE, ROOT, env_names, workspace_services

SERVICE_KEYS = {
    "image", "build", "command", "environment", "ports", "volumes", "depends_on", "healthcheck",
    "restart", "profiles", "read_only", "tmpfs", "user", "cap_drop", "security_opt",
    "stop_grace_period",
}  # fmt: skip
#: settings whose value in a container differs from the local stack by nature: addresses to
#: listen on or reach, ports (the local stack fixes them too, in stack.py), and files (where the
#: container has them: a volume's path, its stdin)
CONTAINER_SPECIFIC = re.compile(r"(^|_)(HOST|HOSTS|BOOTSTRAP_SERVERS|ENDPOINT|PORT|ADDRESS|FILE)$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if "build" in s}


def test_top_level_shape(compose: dict[str, Any]) -> None:
    assert set(compose) - {"name", "services", "volumes"} == {
        k for k in compose if k.startswith("x-")
    }
    for name, service in compose["services"].items():
        assert set(service) <= SERVICE_KEYS, f"{name}: {set(service) - SERVICE_KEYS}"
        assert "image" in service, name


def test_kafka_kraft_cassandra_and_seaweedfs(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "zookeeper" not in services
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["cassandra"]["image"].startswith("cassandra:5.")
    assert services["s3"]["image"].startswith("chrislusf/seaweedfs:")
    for store in ("kafka", "cassandra", "s3"):
        assert services[store]["healthcheck"]["test"][0] == "CMD"


def test_named_volumes_are_declared_and_files_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name}: {source}"
            else:
                assert source in compose["volumes"], f"{name}: volume {source} not declared"


def test_start_order_stores_then_provisioning_then_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for store in ("kafka", "cassandra", "s3"):
        assert services["provision"]["depends_on"][store] == {"condition": "service_healthy"}
    for service in workspace_services():
        assert services[service.name]["depends_on"]["provision"] == {
            "condition": "service_completed_successfully"
        }
    for name, service in compose["services"].items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_the_simulator_is_an_optional_profile(compose: dict[str, Any]) -> None:
    profiled = {n for n, s in compose["services"].items() if "profiles" in s}
    assert profiled == {"simulator"}
    assert compose["services"]["simulator"]["profiles"] == ["simulator"]


def test_images_are_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    images = make_images()
    for name, service in ours(compose).items():
        build = service["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == (
            ROOT / "Dockerfile"
        )
        assert build["args"]["SERVICE"] == name and name in images
        assert build["target"] == ("job" if name in {"provision", "simulator"} else "service")
        assert service["read_only"] is True and service["user"] == "10001:10001"


def test_published_ports_are_the_ports_the_services_listen_on(compose: dict[str, Any]) -> None:
    for service in workspace_services():
        spec = compose["services"][service.name]
        env = spec["environment"]
        listening = {
            v for k, v in env.items() if k.endswith("_PORT") and k.startswith(service.name.upper())
        }
        published = {p.split(":")[1] for p in spec["ports"]}
        assert published == listening, service.name


def _defaults(settings: type[BaseSettings], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name in env_names(settings, every_choice=True):
        monkeypatch.delenv(name, raising=False)
    return _flatten(settings().model_dump(mode="json"))


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key in {"kafka", "cassandra", "s3"}:
            flat |= _flatten(value, f"{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_settings_are_the_local_stacks(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local stack runs every service with its defaults (only ports and addresses differ)."""
    for service in workspace_services():
        defaults = _defaults(service.settings, monkeypatch)
        env = {k: str(v) for k, v in compose["services"][service.name]["environment"].items()}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        configured = _flatten(service.settings().model_dump(mode="json"))
        differ = {
            key
            for key in defaults
            if defaults[key] != configured[key]
            and not CONTAINER_SPECIFIC.search(key.replace(".", "_").upper())
        }
        assert differ == set(), f"{service.name}: not the local stack's settings: {differ}"


def test_s3_keys_are_the_local_stores(compose: dict[str, Any]) -> None:
    identities = json.loads((ROOT / "deploy" / "local" / "s3" / "s3.json").read_text())
    credentials = identities["identities"][0]["credentials"][0]
    for name, service in ours(compose).items():
        env = service["environment"]
        if "S3_ACCESS_KEY" in env:
            assert env["S3_ACCESS_KEY"] == credentials["accessKey"], name
            assert env["S3_SECRET_KEY"] == credentials["secretKey"], name


@pytest.mark.parametrize("service", ["identity", "privacy"])
def test_signing_keys_are_kept_in_a_volume(compose: dict[str, Any], service: str) -> None:
    """The root file system is read-only: identity (tokens) and privacy (certificates) create
    their key (at the first start) in a named volume, which the image's user owns (the
    Dockerfile makes /app/.run/<service>)."""
    spec = compose["services"][service]
    key = PurePosixPath("/app") / spec["environment"][f"{service.upper()}_SIGNING_KEY_FILE"]
    mounts = [volume.split(":")[:2] for volume in spec.get("volumes", [])]
    found = [(s, t) for s, t in mounts if key.is_relative_to(t)]
    assert found, f"{service}: {key} is in no volume (lost with the container)"
    (source, target) = found[0]
    assert target == f"/app/.run/{service}" and source in compose["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "WORKDIR /app" in dockerfile
    assert 'mkdir -p "/app/.run/${SERVICE}"' in dockerfile
    assert 'chown 10001:10001 "/app/.run/${SERVICE}"' in dockerfile
