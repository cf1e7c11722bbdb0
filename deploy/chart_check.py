"""Check the Helm chart without a cluster: lint, render with every values set, validate strictly.

    python deploy/chart_check.py --helm .infra/bin/helm-3.22.0/helm     # `make chart-check`

For each values set (the chart's defaults, ci/minimal-values.yaml, ci/production-values.yaml):
``helm lint --strict``, ``helm template`` into build/chart/<set>.yaml, then every rendered object
is validated against the Kubernetes OpenAPI schemas bundled in kubernetes-validate (offline,
strict: an unknown field fails). YAML with a repeated key fails too (Kubernetes would keep only
one of them). Custom resources (the optional ServiceMonitor) have no bundled schema; they get a
shape check here. The values files and deploy/compose.yaml are yamllint-ed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "trackstream"
LIBRARY = ROOT / "charts" / "trackstream-lib"
OUT = ROOT / "build" / "chart"
DEFAULT_HELM = ROOT / ".infra" / "bin" / "helm-3.22.0" / "helm"
#: the oldest Kubernetes the chart supports that the bundled schemas cover
KUBE_VERSION = "1.31.0"
RELEASE, NAMESPACE = "trackstream", "trackstream"
#: values set -> the files layered over the chart's values.yaml
VALUES_SETS: dict[str, tuple[Path, ...]] = {
    "default": (),
    "minimal": (CHART / "ci" / "minimal-values.yaml",),
    "production": (CHART / "ci" / "production-values.yaml",),
}
#: API groups of custom resources the chart may render (no schema is bundled for them)
CUSTOM_RESOURCES = {
    "monitoring.coreos.com/v1": {
        "ServiceMonitor": ("selector", "endpoints"),
        "PrometheusRule": ("groups",),
    }
}
YAML_LINTED = (CHART / "values.yaml", CHART / "ci", ROOT / "deploy" / "compose.yaml")


class ChartError(Exception):
    """The chart failed a check; the message says which and why."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a mapping with a repeated key."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise ChartError(f"repeated key {key!r} {key_node.start_mark}")
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,
)


def load_documents(text: str) -> list[dict[str, Any]]:
    """The objects of a multi-document YAML stream (empty documents dropped)."""
    return [doc for doc in yaml.load_all(text, Loader=_UniqueKeyLoader) if doc]


def _run(cmd: Sequence[str | Path]) -> str:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise ChartError(f"`{' '.join(map(str, cmd))}` failed:\n{result.stderr.strip()}")
    return result.stdout


def helm_binary(helm: Path | None = None) -> Path:
    path = helm or DEFAULT_HELM
    if not path.exists():
        raise ChartError(f"helm not found at {path}; run `make helm`")
    return path


def build_dependencies(helm: Path) -> None:
    """Vendor the library chart (file://../trackstream-lib) as Chart.lock pins it; offline."""
    _run([helm, "dependency", "build", CHART, "--skip-refresh"])


def render(
    helm: Path, values: Iterable[Path] = (), sets: Iterable[str] = (), *, lint: bool = False
) -> str:
    """``helm template`` of the chart with values files and ``--set`` pairs layered on."""
    options: list[str | Path] = []
    for path in values:
        options += ["-f", path]
    for pair in sets:
        options += ["--set", pair]
    if lint:
        _run([helm, "lint", "--strict", "--kube-version", KUBE_VERSION, CHART, *options])
    template: list[str | Path] = [helm, "template", RELEASE, CHART, "-n", NAMESPACE]
    return _run([*template, "--kube-version", KUBE_VERSION, *options])


def validate(objects: list[dict[str, Any]]) -> list[str]:
    """Every problem found in the rendered objects, one line each (empty: all valid)."""
    problems: list[str] = []
    names = Counter((o.get("kind"), o.get("metadata", {}).get("name")) for o in objects)
    problems += [
        f"{kind}/{name} is rendered {n} times" for (kind, name), n in names.items() if n > 1
    ]
    for obj in objects:
        kind, api = obj.get("kind"), obj.get("apiVersion")
        where = f"{kind}/{obj.get('metadata', {}).get('name')}"
        custom = CUSTOM_RESOURCES.get(str(api), {})
        if kind in custom:
            missing = [f for f in custom[kind] if f not in obj.get("spec", {})]
            if missing:
                problems.append(f"{where}: spec lacks {', '.join(missing)}")
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            path = "/".join(str(p) for p in err.path)
            problems.append(f"{where}: {path}: {err.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where}: no schema for {api} {kind} in Kubernetes {KUBE_VERSION}")
    return problems


@dataclass
class Report:
    values_set: str
    kinds: Counter[str]
    seconds: float


def check_values_set(helm: Path, name: str, files: tuple[Path, ...]) -> Report:
    started = time.monotonic()
    text = render(helm, files, lint=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.yaml").write_text(text)
    objects = load_documents(text)
    problems = validate(objects)
    if problems:
        raise ChartError(f"values set {name!r}:\n  " + "\n  ".join(problems))
    kinds = Counter(str(o["kind"]) for o in objects)
    return Report(name, kinds, time.monotonic() - started)


def yamllint() -> None:
    config = ROOT / ".yamllint.yaml"
    files = [p for p in YAML_LINTED if p.exists()]
    _run([sys.executable, "-m", "yamllint", "--strict", "-c", config, *files])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--helm", type=Path, default=None, help=f"default: {DEFAULT_HELM}")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        helm = helm_binary(args.helm)
        yamllint()
        _run([helm, "lint", "--strict", LIBRARY])
        build_dependencies(helm)
        for name, files in VALUES_SETS.items():
            report = check_values_set(helm, name, files)
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.kinds.items()))
            count = sum(report.kinds.values())
            print(
                f"chart: {name}: lint ok, {count} objects valid (Kubernetes {KUBE_VERSION}, "
                f"strict) in {report.seconds:.1f} s: {kinds}"
            )
    except ChartError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"chart: all checks passed in {time.monotonic() - started:.1f} s (rendered: {OUT})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
