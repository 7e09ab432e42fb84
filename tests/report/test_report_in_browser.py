"""The demo's spend report, as the build wrote it, opened from disk in headless Chromium with the network
cut off: every chart drew every one of its traces with data, and a screenshot of the whole page is kept.

The screenshot is written under the test's temporary folder and copied to warehouse/test-artifacts/report.png
(the test prints both paths and the report's size).
"""

from __future__ import annotations

import re
import shutil

import pytest

from dagster_project.report import REPORT_FILE
from dagster_project.report.sections import SECTIONS
from dagster_project.settings import WAREHOUSE_DIR
from tests.report.browser import drawn_charts, png_size_and_colours, require_chromium, run_chromium

pytestmark = pytest.mark.slow

ARTIFACT = WAREHOUSE_DIR / "test-artifacts" / "report.png"
WIDTH = 1280
MAX_HEIGHT = 16000  # Chromium's largest screenshot surface is 16384 px


@pytest.fixture(scope="session")
def browser():
    """Chromium's path, checked before the demo warehouse is built."""
    return require_chromium()


@pytest.fixture
def demo_report(browser, built_warehouse, tmp_path):
    """The report the build's asset wrote, copied alone into an empty folder (nothing beside it to load)."""
    written = built_warehouse["root"] / "exports" / REPORT_FILE
    assert written.is_file(), f"the build wrote no report at {written}"
    alone = tmp_path / "alone" / REPORT_FILE
    alone.parent.mkdir()
    shutil.copyfile(written, alone)
    return {"path": alone, "html": alone.read_text(encoding="utf-8"), "browser": browser,
            "profile": tmp_path / "chromium-profile", "published": built_warehouse["root"] / "published"}


def test_the_build_writes_the_report_from_the_published_copy(demo_report):
    html = demo_report["html"]
    assert f"From {demo_report['published'] / 'tokenspend.duckdb'}" in html
    assert re.findall(r'<section id="([a-z_]+)" class="ts-section" data-status="ok"', html) == [s.key for s in SECTIONS]


def test_every_chart_draws_with_data_in_chromium_offline(demo_report, tmp_path, capsys):
    html, browser, profile = demo_report["html"], demo_report["browser"], demo_report["profile"]
    declared = dict(re.findall(r'<figure class="ts-chart" data-chart="([^"]+)" data-traces="(\d+)"', html))
    assert len(declared) >= len(SECTIONS), declared

    dom = run_chromium(browser, profile, demo_report["path"].as_uri(), "--dump-dom")
    charts = drawn_charts(dom)
    assert [c.chart_id for c in charts] == list(declared), "the browser's DOM lost or reordered charts"
    for chart in charts:
        assert chart.svgs >= 1, f"{chart.chart_id}: Plotly drew no SVG"
        assert chart.traces == chart.declared_traces == int(declared[chart.chart_id]), (
            f"{chart.chart_id}: {chart.traces} trace(s) drawn of {chart.declared_traces}")
        assert all(marks > 0 for marks in chart.marks_per_trace), (
            f"{chart.chart_id}: a trace drew no bar, point or line: {chart.marks_per_trace}")

    # the whole page, at its own height (measured by a copy that writes it into the DOM once laid out)
    probe = tmp_path / "alone" / "probe.html"
    probe.write_text(html.replace("</body>", "<script>window.addEventListener('load', () => document.body"
                                  ".setAttribute('data-height', document.documentElement.scrollHeight));</script></body>"),
                     encoding="utf-8")
    measured = re.search(r'data-height="(\d+)"', run_chromium(browser, profile, probe.as_uri(), "--dump-dom"))
    assert measured, "the probe did not report the page's height"
    height = min(int(measured.group(1)), MAX_HEIGHT)
    shot = tmp_path / "report.png"
    run_chromium(browser, profile, demo_report["path"].as_uri(), f"--window-size={WIDTH},{height}",
                 f"--screenshot={shot}")
    blank = tmp_path / "alone" / "blank.html"
    blank.write_text("<!doctype html><html><body></body></html>", encoding="utf-8")
    blank_shot = tmp_path / "blank.png"
    run_chromium(browser, profile, blank.as_uri(), f"--window-size={WIDTH},{height}", f"--screenshot={blank_shot}")

    width, shot_height, colours = png_size_and_colours(shot)
    assert (width, shot_height) == (WIDTH, height)
    blank_colours = png_size_and_colours(blank_shot)[2]
    assert colours > 4 * blank_colours, f"the screenshot looks blank ({colours} vs a blank page's {blank_colours})"

    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACT)
    with capsys.disabled():
        print(f"\nspend report: {demo_report['path'].stat().st_size:,} bytes, {len(charts)} charts drawn; "
              f"screenshot {shot} ({width}x{height}), copied to {ARTIFACT}")
