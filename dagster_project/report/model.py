"""What a report is made of (sections of charts, tables and notes) and how its values are written."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import plotly.graph_objects as go

NO_DATA = "no data"
NOT_BUILT = "not built"
OK = "ok"
DASH = "–"


@dataclass
class Chart:
    """One chart: a Plotly figure drawn into the element `chart_id`."""

    chart_id: str
    title: str
    figure: go.Figure
    caption: str = ""

    @property
    def traces(self) -> int:
        return len(self.figure.data)


@dataclass
class Table:
    """A table of formatted cells; `numeric` holds the indexes of right-aligned columns, `wrap` those whose
    text may wrap (the others stay on one line)."""

    caption: str
    headers: list[str]
    rows: list[list[str]]
    numeric: frozenset[int] = frozenset()
    wrap: frozenset[int] = frozenset()


@dataclass
class Section:
    """One part of the report. `status` is OK, NO_DATA or NOT_BUILT; `detail` says why it has no content."""

    key: str
    title: str
    intro: str
    status: str = OK
    detail: str = ""
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Figure:
    """A headline figure at the top of the report."""

    label: str
    value: str
    detail: str = ""


# --- values as text ---------------------------------------------------------------------------------

def usd(value: Decimal | int | None) -> str:
    """Dollars to the cent ($1,234.56); a dash for none."""
    return _dollars(value, Decimal("0.01"))


def unit_usd(value: Decimal | int | None) -> str:
    """A unit cost: to the cent from $1 up, to a hundredth of a cent below ($0.0276)."""
    if value is not None and abs(Decimal(value)) < 1:
        return _dollars(value, Decimal("0.0001"))
    return usd(value)


def _dollars(value: Decimal | int | None, step: Decimal) -> str:
    if value is None:
        return DASH
    rounded = Decimal(value).quantize(step)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,}"


def pct(ratio: Decimal | float | None, places: int = 1) -> str:
    """A ratio (0.153) as a percentage (15.3%)."""
    if ratio is None:
        return DASH
    return f"{Decimal(ratio) * 100:,.{places}f}%"


def count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def text(value) -> str:
    if value is None:
        return DASH
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def month(value: dt.date | None) -> str:
    return DASH if value is None else value.strftime("%Y-%m")
