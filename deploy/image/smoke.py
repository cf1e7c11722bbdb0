"""Smoke test of one container image's runtime environment, run with that environment's Python.

    build/image/ingest/venv/bin/python deploy/image/smoke.py ingest    # `make image-check`

`make image-install` builds the environment exactly as the Dockerfile's build stage does; this
checks what the final image would hold: the entry point and everything it imports load, the
settings class reads its defaults, every Trackstream module lives inside the environment (the
image copies the environment alone, so nothing may point back into the source tree), and no
build or test tool came along.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]

#: image -> the modules its command runs and imports
ENTRY_MODULES: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest.__main__", "ingest.bootstrap", "ingest.config"),
    "history": ("history.__main__", "history.bootstrap", "history.config"),
    "simulator": ("trackstream_simulator.__main__", "trackstream_simulator.cli"),
    "provision": (),
}
#: the settings class each service's command builds first
SETTINGS = {
    "ingest": ("ingest.config", "IngestSettings"),
    "history": ("history.config", "HistorySettings"),
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


def load_provision() -> ModuleType:
    """deploy/local/provision.py is copied into the image next to the environment; import it."""
    path = ROOT / "deploy" / "local" / "provision.py"
    spec = importlib.util.spec_from_file_location("provision", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(image: str) -> list[str]:
    problems: list[str] = []
    if image not in ENTRY_MODULES:
        return [f"unknown image {image!r}; known: {', '.join(ENTRY_MODULES)}"]
    for name in ENTRY_MODULES[image]:
        importlib.import_module(name)
    if image == "provision":
        provision = load_provision()
        if not provision.MIGRATIONS.is_dir():
            problems.append(f"provision: no migrations folder at {provision.MIGRATIONS}")
    if image in SETTINGS:
        module, cls = SETTINGS[image]
        getattr(importlib.import_module(module), cls)()
    for tool in BUILD_TOOLS:
        if importlib.util.find_spec(tool) is not None:
            problems.append(f"build/test tool {tool!r} is installed in the runtime environment")
    prefix = Path(sys.prefix).resolve()
    entry_packages = {name.split(".")[0] for name in ENTRY_MODULES[image]}
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
        print(f"image {argv[0]}: entry point imports, settings load, no build tools")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
