"""Headless Chromium for the report's browser test: finding it, running it with the network cut off, and
reading what it drew from the DOM it dumps.

Debian's `chromium` package (.ci/run installs it). Without it the browser test skips, saying so; with
TOKENSPEND_TEST_BROWSER=1 (CI) it fails instead, and TOKENSPEND_TEST_BROWSER=0 skips it anyway.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

REQUIRED_VAR = "TOKENSPEND_TEST_BROWSER"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Every name resolves to nothing and every non-file request goes to a closed port: a page that needs the
# network cannot get it.
NO_NETWORK = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
              "--proxy-bypass-list=<-loopback>"]
TIMEOUT_SECONDS = 180


def chromium() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The browser's path; skips (or, with TOKENSPEND_TEST_BROWSER=1, fails) when there is none."""
    setting = os.environ.get(REQUIRED_VAR, "").strip()
    if setting == "0":
        pytest.skip(f"{REQUIRED_VAR}=0: the browser test is switched off")
    found = chromium()
    if found:
        return found
    reason = f"no Chromium on PATH ({', '.join(CANDIDATES)}); Debian: apt-get install chromium"
    if setting == "1":
        pytest.fail(f"{REQUIRED_VAR}=1 requires the browser test, and it cannot run here: {reason}")
    pytest.skip(f"browser test skipped: {reason}. Set {REQUIRED_VAR}=1 to make this a failure.")


def run_chromium(browser: str, profile: Path, url: str, *args: str, budget_ms: int = 30000) -> str:
    """Run headless Chromium on `url` with the network cut off, its scripts given `budget_ms` of virtual
    time; returns its stdout. Fails the test with Chromium's stderr when it exits non-zero."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--hide-scrollbars", f"--user-data-dir={profile}", *NO_NETWORK,
               f"--virtual-time-budget={budget_ms}", *args, url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    assert result.returncode == 0, f"chromium exited {result.returncode}:\n{result.stderr[-4000:]}"
    return result.stdout


@dataclass
class DrawnChart:
    """What the browser drew inside one chart figure of the report."""

    chart_id: str
    declared_traces: int
    svgs: int = 0
    traces: int = 0
    marks_per_trace: list[int] = field(default_factory=list)


class ChartCounter(HTMLParser):
    """Walks the DOM Chromium dumps and counts, per `figure.ts-chart`, Plotly's drawing: its SVG layers
    (`.main-svg`), its trace groups (`g.trace`) and the data marks in each (bar or marker `.point`, line
    `.js-line`)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__()
        self.charts: list[DrawnChart] = []
        self._stack: list[tuple[str, set[str]]] = []
        self._chart_depth: int | None = None
        self._trace_depth: int | None = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        classes = set((values.get("class") or "").split())
        if tag in self.VOID:
            return
        self._stack.append((tag, classes))
        depth = len(self._stack)
        if tag == "figure" and "ts-chart" in classes:
            self.charts.append(DrawnChart(values["data-chart"], int(values["data-traces"])))
            self._chart_depth = depth
            return
        if self._chart_depth is None:
            return
        chart = self.charts[-1]
        if "main-svg" in classes:
            chart.svgs += 1
        if tag == "g" and "trace" in classes:
            chart.traces += 1
            chart.marks_per_trace.append(0)
            self._trace_depth = depth
        elif self._trace_depth is not None and ("point" in classes or "js-line" in classes):
            chart.marks_per_trace[-1] += 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        while self._stack:
            open_tag, _ = self._stack.pop()
            depth = len(self._stack) + 1
            if self._trace_depth == depth:
                self._trace_depth = None
            if self._chart_depth == depth:
                self._chart_depth = None
            if open_tag == tag:
                break


def drawn_charts(dom: str) -> list[DrawnChart]:
    counter = ChartCounter()
    counter.feed(dom)
    counter.close()
    return counter.charts


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct byte values of the decompressed image data) of a PNG: a blank page is a
    handful of values, a page with charts and text hundreds of thousands of pixels that differ."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    idat, offset = bytearray(), 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            idat += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    return width, height, len(set(zlib.decompress(bytes(idat))))
