"""The chart and the compose file set exactly the variables each service reads.

Fails when a setting a service reads is missing from the chart (rendered with default values,
every service enabled) or from deploy/compose.yaml, when either sets a name no service reads,
and when a service in services/ has no chart block or compose service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings

from deploy.chart_check import VALUES_SETS, load_documents, render
from tests.deploy.workspace import (
    CHART,
    COMPOSE,
    NOT_DEPLOYED,
    PROVISION_ENV,
    SIMULATOR_ENV,
    WorkspaceService,
    deployed_env_names,
    env_names,
    workspace_services,
)

SERVICES = workspace_services()
IDS = [s.name for s in SERVICES]


def chart_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return values


@pytest.fixture(scope="module")
def chart_objects(helm: Path) -> list[dict[str, Any]]:
    """The chart with default values and every service block switched on."""
    enable = [f"services.{name}.enabled=true" for name in chart_values()["services"]]
    return load_documents(render(helm, sets=enable))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_env(objects: list[dict[str, Any]], kind: str, component: str) -> dict[str, str | None]:
    """name -> value (None: from a Secret) of what the component's container gets: its env
    entries and every key of the ConfigMaps and Secrets it takes whole (envFrom)."""
    workloads = [
        o
        for o in objects
        if o["kind"] == kind
        and o["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    assert len(workloads) == 1, f"expected one {kind} for {component}, got {len(workloads)}"
    (container,) = workloads[0]["spec"]["template"]["spec"]["containers"]
    config_maps, secrets = _by_kind(objects, "ConfigMap"), _by_kind(objects, "Secret")
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]]["data"])
        else:
            env.update(dict.fromkeys(secrets[source["secretRef"]["name"]]["data"]))
    for entry in container.get("env", []):
        assert entry["name"] not in env, f"{component}: {entry['name']} is set twice"
        env[entry["name"]] = entry.get("value")
    return env


def compose_env(compose: dict[str, Any], service: str) -> dict[str, str]:
    assert service in compose["services"], f"deploy/compose.yaml has no service {service!r}"
    return {k: str(v) for k, v in compose["services"][service].get("environment", {}).items()}


def assert_exactly(where: str, provided: set[str], expected: set[str]) -> None:
    missing, unread = sorted(expected - provided), sorted(provided - expected)
    assert not missing and not unread, (
        f"{where}: missing (read but not set): {missing}; set but read by nothing: {unread}"
    )


def parse_with(settings: type[BaseSettings], env: dict[str, str], monkeypatch: Any) -> BaseModel:
    """The settings class built from exactly this environment (types checked by pydantic)."""
    for name in env_names(settings, every_choice=True):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings()


def test_the_workspace_has_services_with_settings() -> None:
    assert {"ingest", "history"} <= set(IDS)
    for service in SERVICES:
        assert deployed_env_names(service), f"{service.name}: no setting found"


def test_env_names_follow_prefixes_and_nested_settings() -> None:
    from pydantic import AliasChoices, AliasPath, Field
    from pydantic_settings import SettingsConfigDict

    from trackstream_kafka.settings import KafkaSettings

    class Example(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="EXAMPLE_")
        port: int = 1
        token_file: str = Field(default="", validation_alias="OTHER_TOKEN_FILE")
        shared_key: str = Field(default="", validation_alias=AliasChoices("OTHER_KEY", "shared"))
        kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    names = env_names(Example)
    assert "EXAMPLE_PORT" in names
    assert "OTHER_TOKEN_FILE" in names and "EXAMPLE_TOKEN_FILE" not in names
    # alias choices: a deployment sets the first; the others are read too, and cleared in tests
    assert "OTHER_KEY" in names and not {"SHARED", "EXAMPLE_SHARED_KEY"} & names
    assert {"OTHER_KEY", "SHARED"} <= env_names(Example, every_choice=True)
    assert "KAFKA_BOOTSTRAP_SERVERS" in names
    assert "EXAMPLE_KAFKA" not in names

    class Unsupported(BaseSettings):
        key: str = Field(default="", validation_alias=AliasPath("KEY", 0))

    with pytest.raises(AssertionError, match="not supported"):
        env_names(Unsupported)


def test_test_only_settings_are_still_read() -> None:
    read = set().union(*(env_names(s.settings) for s in SERVICES))
    assert set(NOT_DEPLOYED) <= read, f"stale NOT_DEPLOYED entries: {set(NOT_DEPLOYED) - read}"


@pytest.mark.parametrize("service", SERVICES, ids=IDS)
def test_every_service_has_a_chart_block_and_template(service: WorkspaceService) -> None:
    assert service.name in chart_values()["services"], (
        f"charts/trackstream/values.yaml has no services.{service.name} block"
    )
    block = chart_values()["services"][service.name]
    assert block["module"] == service.name, "the chart runs python -m <module>"
    assert block["envPrefix"] == service.settings.model_config.get("env_prefix")
    template = CHART / "templates" / f"{service.name}.yaml"
    assert template.exists(), f"{template.relative_to(CHART)} is missing"
    assert f'"name" "{service.name}"' in template.read_text()


@pytest.mark.parametrize("service", SERVICES, ids=IDS)
def test_chart_sets_exactly_what_the_service_reads(
    service: WorkspaceService, chart_objects: list[dict[str, Any]]
) -> None:
    env = pod_env(chart_objects, "Deployment", service.name)
    assert_exactly(f"chart, {service.name}", set(env), deployed_env_names(service))


@pytest.mark.parametrize("service", SERVICES, ids=IDS)
def test_chart_values_are_valid_settings(
    service: WorkspaceService, chart_objects: list[dict[str, Any]], monkeypatch: Any
) -> None:
    env = pod_env(chart_objects, "Deployment", service.name)
    # values from Secrets are not in the manifests: any non-empty string stands in for them
    literal = {k: ("secret-from-the-cluster" if v is None else v) for k, v in env.items()}
    try:
        parse_with(service.settings, literal, monkeypatch)
    except ValidationError as err:
        pytest.fail(f"chart values for {service.name} do not parse: {err}")


@pytest.mark.parametrize("values_set", list(VALUES_SETS))
def test_every_values_set_gives_valid_settings(
    helm: Path, values_set: str, monkeypatch: Any
) -> None:
    """The minimal and production values change settings too (production: geocoding's
    provider, which needs its URL): each service's settings still parse."""
    objects = load_documents(render(helm, VALUES_SETS[values_set]))
    deployed = {
        o["metadata"]["labels"]["app.kubernetes.io/component"]
        for o in objects
        if o["kind"] == "Deployment"
    }
    assert deployed == set(IDS)
    for service in SERVICES:
        env = pod_env(objects, "Deployment", service.name)
        literal = {k: ("secret-from-the-cluster" if v is None else v) for k, v in env.items()}
        try:
            with monkeypatch.context() as patch:
                parse_with(service.settings, literal, patch)
        except ValidationError as err:
            pytest.fail(f"{values_set} values for {service.name} do not parse: {err}")


@pytest.mark.parametrize("service", SERVICES, ids=IDS)
def test_compose_sets_exactly_what_the_service_reads(
    service: WorkspaceService, compose: dict[str, Any], monkeypatch: Any
) -> None:
    env = compose_env(compose, service.name)
    assert_exactly(f"compose, {service.name}", set(env), deployed_env_names(service))
    parse_with(service.settings, env, monkeypatch)


def test_chart_provisioning_job_sets_exactly_the_connection_settings(
    chart_objects: list[dict[str, Any]],
) -> None:
    env = pod_env(chart_objects, "Job", "provision")
    assert_exactly("chart, provisioning job", set(env), PROVISION_ENV)


def test_compose_provision_and_simulator_set_exactly_what_they_read(
    compose: dict[str, Any],
) -> None:
    assert_exactly("compose, provision", set(compose_env(compose, "provision")), PROVISION_ENV)
    assert_exactly("compose, simulator", set(compose_env(compose, "simulator")), SIMULATOR_ENV)


def test_compose_runs_no_trackstream_container_the_tests_do_not_know() -> None:
    compose_services = yaml.safe_load(COMPOSE.read_text())["services"]
    ours = {name for name, s in compose_services.items() if "build" in s}
    assert ours == set(IDS) | {"provision", "simulator"}


def test_the_check_fails_on_a_missing_and_an_unread_name(
    chart_objects: list[dict[str, Any]],
) -> None:
    service = SERVICES[0]
    expected = deployed_env_names(service)
    provided = set(pod_env(chart_objects, "Deployment", service.name))
    with pytest.raises(AssertionError, match="missing"):
        assert_exactly("x", provided - {sorted(expected)[0]}, expected)
    with pytest.raises(AssertionError, match="read by nothing"):
        assert_exactly("x", provided | {f"{service.name.upper()}_NOT_A_SETTING"}, expected)


def test_an_empty_compression_setting_means_none(monkeypatch: Any) -> None:
    """The chart and compose set KAFKA_COMPRESSION_TYPE="" (no compression); aiokafka accepts
    None but refuses an empty string."""
    from trackstream_kafka.settings import KafkaSettings

    monkeypatch.setenv("KAFKA_COMPRESSION_TYPE", "")
    assert KafkaSettings().compression_type is None
    monkeypatch.setenv("KAFKA_COMPRESSION_TYPE", "gzip")
    assert KafkaSettings().compression_type == "gzip"
