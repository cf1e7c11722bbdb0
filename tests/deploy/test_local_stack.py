"""`make up` runs every service: deploy/local/stack.py knows it, on the ports its settings default
to, `make services` starts it, and `make test` stops it before the tests start their own."""

from __future__ import annotations

import re
from typing import Any

import pytest

from deploy.local import stack
from tests.deploy.workspace import ROOT, WorkspaceService, env_names, workspace_services

SERVICES = workspace_services()
IDS = [s.name for s in SERVICES]
MAKEFILE = (ROOT / "Makefile").read_text()


@pytest.fixture
def components(monkeypatch: pytest.MonkeyPatch) -> dict[str, stack.Component]:
    """The stack's components with every port at its default (no port variable set)."""
    for service in SERVICES:
        for name in env_names(service.settings):
            monkeypatch.delenv(name, raising=False)
    return {c.name: c for c in stack.components(stack.StackSettings())}


def _default_ports(service: WorkspaceService) -> dict[str, Any]:
    fields = service.settings.model_fields
    return {name: f.default for name, f in fields.items() if name.endswith("_port")}


@pytest.mark.parametrize("service", SERVICES, ids=IDS)
def test_the_stack_runs_every_service_on_its_default_ports(
    service: WorkspaceService, components: dict[str, stack.Component]
) -> None:
    component = components.get(service.name)
    assert isinstance(component, stack.Service), f"deploy/local/stack.py has no {service.name}"
    assert component.command()[1:] == ["-m", service.name]
    defaults = _default_ports(service)
    # the stack sets <PREFIX>OPS_PORT itself; where the settings have a default, it is that one
    assert component.ports["ops"] == (defaults["ops_port"] or component.ports["ops"])
    ops_ports = [c.ports["ops"] for c in components.values() if isinstance(c, stack.Service)]
    assert ops_ports.count(component.ports["ops"]) == 1, f"{service.name}: ops port taken twice"
    others = {v for k, v in component.ports.items() if k != "ops"}
    assert others <= set(defaults.values()), (
        f"{service.name}: the stack waits on {others}, the service listens on {defaults}"
    )


def _make_lines(command: str) -> list[list[str]]:
    pattern = rf"^\t\$\(PY\) deploy/local/stack\.py {command} (.+)$"
    return [line.split() for line in re.findall(pattern, MAKEFILE, re.MULTILINE)]


def test_make_services_starts_every_service_and_the_gateway_last() -> None:
    (started,) = [names for names in _make_lines("up") if "fleet" not in names]
    assert sorted(started) == sorted(IDS)
    assert started[-1] == "gateway", "the gateway calls the others: it starts once they are ready"


def test_the_tests_stop_every_service_of_make_up_first() -> None:
    stops = _make_lines("down")
    assert len(stops) == 2, "make test and make test-integration"
    for names in stops:
        assert sorted(names) == sorted([*IDS, "fleet"])


@pytest.mark.parametrize("service", SERVICES, ids=IDS)
def test_the_up_banner_says_where_each_service_is(service: WorkspaceService) -> None:
    banner = MAKEFILE.split("\nup:", 1)[1].split("\n\n", 1)[0]
    assert f"$${{{service.name.upper()}_" in banner, f"make up does not print {service.name}"
