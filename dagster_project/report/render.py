"""The report as one self-contained HTML page: Plotly's script inlined once, each chart's figure beside it.

The page loads nothing: no script, style, font or image comes from anywhere but the file, so it opens
from disk with no server and no network. Text is escaped by Jinja2's autoescape; the only raw HTML is
the chart markup Plotly writes and Plotly's own script.
"""

from __future__ import annotations

import jinja2
import plotly.io as pio
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from dagster_project.report.model import Chart, Figure, Section

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tokenspend (plotly.js {{ plotly_version }})">
<title>{{ title }}</title>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
         margin: 0; color: #1c2833; background: #f7f9fb; }
  header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
  header { padding-top: 24px; }
  h1 { margin: 0 0 4px; font-size: 1.7em; }
  h2 { margin: 0 0 6px; font-size: 1.3em; }
  .source { color: #566573; margin: 0 0 16px; font-size: 0.9em; }
  nav { display: flex; flex-wrap: wrap; gap: 6px 14px; margin-bottom: 16px; font-size: 0.9em; }
  nav a { color: #1f618d; text-decoration: none; }
  .figures { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 20px; }
  .figure { background: #fff; border: 1px solid #d5dbdb; border-radius: 6px; padding: 10px 14px; min-width: 180px; }
  .figure .label { color: #566573; font-size: 0.85em; }
  .figure .value { font-size: 1.5em; font-weight: 600; }
  .figure .detail { color: #566573; font-size: 0.8em; }
  section { background: #fff; border: 1px solid #d5dbdb; border-radius: 6px; padding: 16px 20px; margin-bottom: 20px; }
  .intro { color: #566573; margin-top: 0; }
  .empty { font-style: italic; color: #7b7d7d; }
  figure.ts-chart { margin: 12px 0 18px; }
  figure.ts-chart figcaption { font-weight: 600; margin-bottom: 4px; }
  figure.ts-chart .caption { font-weight: normal; color: #566573; font-size: 0.85em; }
  .table { overflow-x: auto; margin: 10px 0 16px; }
  table { border-collapse: collapse; width: 100%; font-size: 0.85em; }
  caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
  th, td { border-bottom: 1px solid #e5e8e8; padding: 4px 8px; text-align: left; vertical-align: top;
           white-space: nowrap; }
  td.wrap { white-space: normal; min-width: 9em; overflow-wrap: anywhere; }
  th { background: #f2f4f4; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  footer { color: #7b7d7d; font-size: 0.8em; padding-bottom: 24px; }
</style>
<script type="text/javascript">{{ plotly_js|safe }}</script>
</head>
<body>
<header>
  <h1>{{ title }}</h1>
  <p class="source">{{ source }}</p>
  <nav>{% for s in sections %}<a href="#{{ s.key }}">{{ s.title }}</a>{% endfor %}</nav>
  <div class="figures">
  {%- for f in figures %}
    <div class="figure"><div class="label">{{ f.label }}</div><div class="value">{{ f.value }}</div>
      {%- if f.detail %}<div class="detail">{{ f.detail }}</div>{% endif %}</div>
  {%- endfor %}
  </div>
</header>
<main>
{%- for s in sections %}
<section id="{{ s.key }}" class="ts-section" data-status="{{ s.status }}">
  <h2>{{ s.title }}</h2>
  <p class="intro">{{ s.intro }}</p>
  {%- if s.status != "ok" %}
  <p class="empty">{{ s.status|capitalize }}{% if s.detail %}: {{ s.detail }}{% endif %}</p>
  {%- endif %}
  {%- for note in s.notes %}
  <p>{{ note }}</p>
  {%- endfor %}
  {%- for c in s.charts %}
  <figure class="ts-chart" data-chart="{{ c.chart_id }}" data-traces="{{ c.traces }}">
    <figcaption>{{ c.title }}{% if c.caption %} <span class="caption">{{ c.caption }}</span>{% endif %}</figcaption>
    {{ chart_html[c.chart_id]|safe }}
  </figure>
  {%- endfor %}
  {%- for t in s.tables %}
  <div class="table"><table>
    <caption>{{ t.caption }}</caption>
    <thead><tr>{% for h in t.headers %}<th{% if loop.index0 in t.numeric %} class="num"{% endif %}>{{ h }}</th>{% endfor %}</tr></thead>
    <tbody>
    {%- for row in t.rows %}
      <tr>{% for cell in row %}<td{% if loop.index0 in t.numeric %} class="num"{% elif loop.index0 in t.wrap %} class="wrap"{% endif %}>{{ cell }}</td>{% endfor %}</tr>
    {%- endfor %}
    </tbody>
  </table></div>
  {%- endfor %}
</section>
{%- endfor %}
</main>
<footer><p>{{ footer }}</p></footer>
</body>
</html>
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
_TEMPLATE = _ENV.from_string(PAGE)


def plotly_script() -> str:
    """plotly.js as shipped inside the plotly package (no download)."""
    script = get_plotlyjs()
    if "</script" in script.lower():
        raise RuntimeError("plotly.js contains '</script' and cannot be inlined into a <script> element")
    return script


def chart_html(chart: Chart) -> str:
    """The chart's element and the script that draws it (plotly.js itself is in the page's head). Plotly's
    own markup: the template marks it safe; every text of ours goes through autoescape."""
    return pio.to_html(chart.figure, full_html=False, include_plotlyjs=False, div_id=chart.chart_id,
                       config=PLOTLY_CONFIG, validate=True)


def render_page(*, title: str, source: str, figures: list[Figure], sections: list[Section], footer: str) -> str:
    charts = {c.chart_id: chart_html(c) for s in sections for c in s.charts}
    return _TEMPLATE.render(
        title=title, source=source, figures=figures, sections=sections, footer=footer, chart_html=charts,
        plotly_js=plotly_script(),
        plotly_version=get_plotlyjs_version(),
    )
