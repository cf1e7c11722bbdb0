from __future__ import annotations

from pathlib import Path

import pytest

from deploy.chart_check import build_dependencies, helm_binary


@pytest.fixture(scope="session")
def helm() -> Path:
    """The helm binary (`make helm` builds it), with the library chart vendored."""
    path = helm_binary()
    build_dependencies(path)
    return path
