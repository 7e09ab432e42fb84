"""The spend report: one self-contained HTML file drawn from the marts.

`build_report(db)` reads a warehouse file (by default the published copy BI tools read) and returns the
page; `write_report(db, out)` writes it atomically. Sections: spend over time by provider and model,
features by cost per interaction, workflows against their baseline with the savings, teams by spend per
active seat with the idle seats named, the untagged share over time with the offenders by name, budgets
and open alerts, reconciliation variance by cause, why spend changed, and customers. Charts are Plotly,
whose script is inlined, so the file opens from disk with no server and no network.

Run it with `make report` (the demo) or `python -m dagster_project.report [--demo] [--db PATH] [--out PATH]`;
the asset `exports/spend_report` writes it after each build that publishes.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from dagster_project.report.data import Reading, ReportInputError, read
from dagster_project.report.model import NO_DATA, NOT_BUILT, Figure, Section, pct, usd
from dagster_project.report.render import render_page
from dagster_project.report.sections import SECTIONS

REPORT_FILE = "spend_report.html"
TITLE = "LLM spend report"

__all__ = ["REPORT_FILE", "Report", "ReportInputError", "WrittenReport", "build_report", "write_report"]


@dataclass(frozen=True)
class Report:
    """A rendered report: its HTML and the sections it holds."""

    html: str
    sections: list[Section]
    source: Path

    @property
    def charts(self) -> list[str]:
        return [c.chart_id for s in self.sections for c in s.charts]


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    bytes: int
    report: Report


def _sections(reading: Reading) -> list[Section]:
    sections = []
    for spec in SECTIONS:
        if spec.key in reading.missing:
            sections.append(Section(spec.key, spec.title, spec.intro, status=NOT_BUILT,
                                    detail=f"this warehouse has no {', '.join(reading.missing[spec.key])}"))
            continue
        built = spec.build(reading.frames[spec.key])
        sections.append(built or Section(spec.key, spec.title, spec.intro, status=NO_DATA,
                                         detail="the mart has no rows yet"))
    return sections


def _figures(reading: Reading) -> list[Figure]:
    figures = []
    spend = reading.frames.get("spend", {})
    if spend.get("totals"):
        totals = spend["totals"].records()[0]
        figures.append(Figure("billed spend", usd(totals["total_usd"]),
                              f"{totals['first_day']} to {totals['last_day']}"))
    untagged = reading.frames.get("untagged", {})
    if untagged.get("overall"):
        overall = untagged["overall"].records()[0]
        figures.append(Figure("untagged share", pct(overall["share"]), f"{usd(overall['untagged_usd'])} untagged"))
    budgets = reading.frames.get("budgets", {})
    if budgets.get("budgets"):
        statuses = budgets["budgets"].column("status")
        figures.append(Figure("budgets breached", str(statuses.count("breached")),
                              f"{statuses.count('at_risk')} at risk, of {len(statuses)}"))
    if budgets.get("alerts") is not None:
        figures.append(Figure("open alerts", str(len(budgets["alerts"]))))
    return figures


def _source_line(reading: Reading, now: dt.datetime) -> str:
    parts = [f"From {reading.path}"]
    if reading.publication:
        parts.append(f"published {reading.publication['published_at']:%Y-%m-%d %H:%M} UTC")
    through = reading.data_through()
    if through:
        parts.append(f"data through {through}")
    parts.append(f"report generated {now:%Y-%m-%d %H:%M} UTC")
    return "; ".join(parts) + "."


def build_report(db_path: Path | str, now: dt.datetime | None = None) -> Report:
    """Read the marts of `db_path` (read-only, closed before rendering) and render the report."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    reading = read(db_path, {spec.key: spec.source for spec in SECTIONS})
    sections = _sections(reading)
    html = render_page(
        title=TITLE, source=_source_line(reading, now), figures=_figures(reading), sections=sections,
        footer="tokenspend: billed cost is the providers' own cost reports, allocated to requests; money in US "
               "dollars. Every figure comes from the marts of the file named above.",
    )
    return Report(html=html, sections=sections, source=reading.path)


def write_report(db_path: Path | str, out_path: Path | str, now: dt.datetime | None = None) -> WrittenReport:
    """Build the report of `db_path` and write it to `out_path` (a temporary file renamed over it)."""
    report = build_report(db_path, now)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(report.html, encoding="utf-8")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return WrittenReport(path=out, bytes=out.stat().st_size, report=report)
