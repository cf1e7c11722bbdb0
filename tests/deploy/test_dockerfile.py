"""The Dockerfile keeps the rules that matter, and runs the install step CI runs.

There is no Docker engine on our machines: hadolint lints the file, these tests check the rules a
linter does not know about, and `make image-check` runs the build stage's install step for every
image and smoke-tests the environment it produces (deploy/image/smoke.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

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
