"""Fixture files shaped like the sources' documented formats (LiteLLM spend-log exports and OTLP/JSON trace exports)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def landing(tmp_path) -> Path:
    """An empty landing folder."""
    path = tmp_path / "landing"
    path.mkdir()
    return path


def copy_fixture(landing: Path, relative: str, as_name: str | None = None) -> Path:
    """Copy tests/events/fixtures/<relative> into the landing folder (same sub-folder); return its path."""
    source = FIXTURES / relative
    target = landing / Path(relative).parent / (as_name or source.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target
