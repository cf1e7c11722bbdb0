"""The scanner is separate code from the eraser: it imports no service (issue 8)."""

from __future__ import annotations

import ast
from pathlib import Path

import trackstream_residual_scan

SOURCE = Path(trackstream_residual_scan.__file__).parent
ROOT = Path(__file__).resolve().parents[4]


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_imports_a_service() -> None:
    services = {p.name for p in (ROOT / "services").iterdir() if p.is_dir()} | {
        "services",
        "privacy",
    }
    assert "ingest" in services  # the list is real
    offending = {
        str(path.relative_to(SOURCE)): roots & services
        for path in SOURCE.rglob("*.py")
        if (roots := _imported_roots(path)) & services
    }
    assert offending == {}


def test_sealed_records_are_opened_with_its_own_code() -> None:
    """Not the platform's sealing library: a bug there must not hide a hit here."""
    users = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if "trackstream_kafka.sealing" in path.read_text()
    ]
    assert users == []
    assert "decrypt" in (SOURCE / "sealed.py").read_text()
