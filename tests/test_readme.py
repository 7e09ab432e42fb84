"""The README's example of `make run` output is what the demo organisation really prints."""

from __future__ import annotations

import re

import pytest

from dagster_project import settings
from dagster_project.cli import summary

pytestmark = pytest.mark.slow


def test_readme_summary_example_matches_the_demo(built_warehouse):
    readme = (settings.REPO_ROOT / "README.md").read_text()
    block = re.search(r"```\nWarehouse: .*?\n(.*?)```", readme, re.S).group(1)
    printed = summary(built_warehouse["db"]).splitlines()
    for line in block.strip().splitlines():
        prefix = line.split(", ...")[0]
        assert any(p.startswith(prefix) for p in printed), (line, printed)
