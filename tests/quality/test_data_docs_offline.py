"""Data Docs open without a network: no page loads a script, stylesheet or image from outside the site.

The vendored files (`expectations/data_docs_assets/`) are checked against GX's own templates (every URL
they load has a copy, pinned by sha256, and the two GX pins with a subresource-integrity hash match it),
then a real validation's pages are built and read. Headless Chromium (tests/report/browser.py) renders
the index with the network cut off, and the tables bootstrap-table draws from the page's data must be there.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from pathlib import Path

from dagster_project.defs.quality import data_docs
from tests.quality.conftest import DAY, set_untagged_share


def gx_templates() -> dict[str, str]:
    import great_expectations

    folder = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.j2"))}


def test_every_url_gx_templates_load_has_a_pinned_copy():
    doc = data_docs.manifest()
    targets = data_docs.url_targets(doc)
    loaded = {url for text in gx_templates().values() for _, url in data_docs.resources(text)
              if url.startswith("http")}
    assert loaded, "no CDN URL found in GX's templates: has the template layout changed?"
    unknown = sorted(u for u in loaded if data_docs._strip_query(u) not in targets)
    assert not unknown, f"GX loads URLs without a copy in expectations/data_docs_assets/assets.json: {unknown}"
    for entry in [*doc["assets"], *doc["files"]]:
        path = data_docs.assets_dir() / entry["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], entry["file"]


def test_the_copies_are_the_files_gx_pins_by_integrity_hash():
    pins = re.findall(r'src="([^"]+)" integrity="sha384-([^"]+)"', gx_templates()["js_script_imports.j2"])
    assert len(pins) >= 2
    targets = data_docs.url_targets()
    for url, expected in pins:
        copy = data_docs.assets_dir() / targets[url].removeprefix(f"{data_docs.VENDOR}/")
        assert base64.b64encode(hashlib.sha384(copy.read_bytes()).digest()).decode() == expected, url


def test_font_awesome_fonts_are_there():
    doc = data_docs.manifest()
    css = next(a for a in doc["assets"] if a["file"].endswith("all.min.css"))
    css_path = data_docs.assets_dir() / css["file"]
    woff2 = sorted(set(re.findall(r"url\((\.\./webfonts/[^)]+\.woff2)\)", css_path.read_text(encoding="utf-8"))))
    assert woff2
    for ref in woff2:
        assert (css_path.parent / ref).resolve().is_file(), ref


def test_offline_html_points_at_the_copies_relative_to_the_page(tmp_path):
    site = tmp_path / "site"
    page = site / "validations" / "suite" / "run" / "20260101T000000Z" / "batch.html"
    html = (
        '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>\n'
        '<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" '
        'integrity="sha384-x" crossorigin="anonymous"></script>\n'
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1"/>\n'
        "<style>.a { background: url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
        "full_logo_dark.png') }</style>\n"
        '<a href="https://greatexpectations.io">GX</a>\n'
    )
    out = data_docs.offline_html(html, page, site, data_docs.url_targets())
    assert 'href="../../../../static/vendor/bootstrap@4.3.1/dist/css/bootstrap.min.css"' in out
    assert '<script src="../../../../static/vendor/bootstrap@4.3.1/dist/js/bootstrap.min.js"></script>' in out
    assert 'src="../../../../static/images/logo-long.png"' in out
    assert "url('../../../../static/images/logo-long.png')" in out
    assert '<a href="https://greatexpectations.io">' in out  # a hyperlink loads nothing
    assert data_docs.external(out) == []
    assert data_docs.external(html) != []


def _site_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_built_pages_load_nothing_from_the_network(run_check, warehouse_db, gx_dir):
    day = DAY.date().isoformat()
    set_untagged_share(warehouse_db, [(day, "openai", "10", "4"), (day, "anthropic", "5", "0")])
    assert not run_check("mart_untagged_share").passed
    assert run_check("raw_request_events").passed
    site = gx_dir / "uncommitted" / "data_docs" / "local_site"
    pages = _site_pages(site)
    kinds = {p.relative_to(site).parts[0] for p in pages}
    assert {"index.html", "validations", "expectations"} <= kinds
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert data_docs.external(html) == [], page
        found = data_docs.resources(html)
        assert any(kind == "script" for kind, _ in found), page
        for _, url in found:
            assert (page.parent / url).resolve().is_file(), f"{page}: {url}"
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "static/vendor/bootstrap-table@1.19.1/dist/bootstrap-table.min.js" in index
    assert "mart_untagged_share" in index


def test_a_site_built_online_is_rewritten_whole_on_the_next_build(run_check, warehouse_db, gx_dir):
    assert run_check("raw_request_events").passed
    site = gx_dir / "uncommitted" / "data_docs" / "local_site"
    shutil.rmtree(site / "static" / data_docs.VENDOR)
    # the raw_request_events page as a version without the copies wrote it; the next build renders other pages
    old = next((site / "validations" / "raw_request_events").rglob("*.html"))
    old.write_text('<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>', encoding="utf-8")
    assert run_check("raw_outcome_events").passed
    assert data_docs.external(old.read_text(encoding="utf-8")) == []
    assert (site / "static" / data_docs.VENDOR / "jquery@3.7.1" / "dist" / "jquery.min.js").is_file()


def test_the_index_renders_its_tables_with_the_network_cut_off(run_check, warehouse_db, gx_dir, tmp_path):
    """Headless Chromium (Debian's package) with every host unresolvable and every request sent to a closed
    port; skipped without it, unless TOKENSPEND_TEST_BROWSER=1 (CI), which makes that a failure."""
    from tests.report.browser import require_chromium, run_chromium

    browser = require_chromium()
    assert run_check("raw_request_events").passed
    index = gx_dir / "uncommitted" / "data_docs" / "local_site" / "index.html"
    dom = run_chromium(browser, tmp_path / "profile", index.as_uri(), "--dump-dom", budget_ms=10000)
    # bootstrap-table (a vendored script, run by jQuery) turns each table's data into rows it numbers
    assert re.search(r'<tr[^>]*data-index="0"', dom), dom[:2000]
    assert "raw_request_events" in dom
    assert "fixed-table-container" in dom  # bootstrap-table's own markup: its script ran
