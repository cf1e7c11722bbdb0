"""What the deployment files must match: the workspace's services and the variables they read.

A service is a folder ``services/<name>/`` whose package has an entry point
(``src/<name>/__main__.py``); its settings class is the ``ServiceSettings`` subclass in
``src/<name>/config.py``. The variables it reads are derived from that class: every field, under
the class's ``env_prefix``, and nested settings classes (``KafkaSettings``, ...) under their own.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from trackstream_cassandra import CassandraSettings
from trackstream_kafka.settings import KafkaSettings
from trackstream_s3 import S3Settings
from trackstream_servicekit import ServiceSettings
from trackstream_simulator.registry import IDENTIFIER_KEY_ENV

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
CHART = ROOT / "charts" / "trackstream"
COMPOSE = ROOT / "deploy" / "compose.yaml"

#: variables a service reads that a deployment must not set, and why
NOT_DEPLOYED = {
    "INGEST_FAILPOINT": "test-only failpoint (the crash-safety test makes ingest exit with it)",
}


@dataclass(frozen=True)
class WorkspaceService:
    name: str
    settings: type[ServiceSettings]


def env_names(settings: type[BaseSettings], *, every_choice: bool = False) -> set[str]:
    """The environment variables a settings class reads (nested settings under their prefix).

    A field with ``AliasChoices`` is filled by whichever of its variables is set: a deployment
    sets the first (the one named here); ``every_choice`` adds the others (to clear them all).
    """
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in settings.model_fields.items():
        annotation: Any = field.annotation
        if inspect.isclass(annotation) and issubclass(annotation, BaseSettings):
            names |= env_names(annotation, every_choice=every_choice)
            continue
        alias = field.validation_alias or field.alias
        if isinstance(alias, AliasChoices) and all(isinstance(c, str) for c in alias.choices):
            choices = [str(c) for c in alias.choices]
            alias = choices[0]
            if every_choice:
                names |= {c.upper() for c in choices[1:]}
        if alias is not None and not isinstance(alias, str):
            raise AssertionError(f"{settings.__name__}.{field_name}: alias {alias!r} not supported")
        # pydantic-settings: an alias is the variable's whole name; otherwise prefix + field name
        names.add((alias or f"{prefix}{field_name}").upper())
    return names


def settings_class(name: str) -> type[ServiceSettings]:
    try:
        module = importlib.import_module(f"{name}.config")
    except ModuleNotFoundError as err:
        raise AssertionError(
            f"services/{name} has an entry point but its settings do not import ({err}); "
            f"a service reads its settings from services/{name}/src/{name}/config.py"
        ) from err
    found = [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
        and value.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise AssertionError(
            f"services/{name}/src/{name}/config.py defines {len(found)} ServiceSettings "
            "subclasses; a service has exactly one settings class"
        )
    return found[0]


def workspace_services() -> list[WorkspaceService]:
    """Every runnable service in services/ (a package with ``__main__.py``), with its settings."""
    return [
        WorkspaceService(folder.name, settings_class(folder.name))
        for folder in sorted(SERVICES.iterdir())
        if (folder / "src" / folder.name / "__main__.py").exists()
    ]


def deployed_env_names(service: WorkspaceService) -> set[str]:
    """What a deployment of the service must set: all it reads but the test-only settings."""
    return env_names(service.settings) - set(NOT_DEPLOYED)


#: the provisioning job (deploy/local/provision.py) reads the three connection settings classes
PROVISION_ENV = env_names(KafkaSettings) | env_names(CassandraSettings) | env_names(S3Settings)
#: the simulator registers devices on Kafka with the identifier key (trackstream_simulator)
SIMULATOR_ENV = env_names(KafkaSettings) | {IDENTIFIER_KEY_ENV}
