"""Data Docs that open without a network: the styles and scripts GX loads from CDNs, served from the site.

Great Expectations' page templates load Bootstrap, jQuery, bootstrap-table, Font Awesome, the date picker,
the dark theme and Vega from public CDNs, and its logo from its own bucket. On a machine that cannot reach
them (most warehouses' networks) the index is an unstyled page whose tables, which bootstrap-table draws
from data in the page, stay empty. GX has no setting for where these come from, and its template loader
reads its own templates before custom views, so the pages are rewritten after GX writes them:

- `expectations/data_docs_assets/` holds each file, as the npm registry publishes it, at the version the
  templates name (`assets.json`: URL -> file, licence, sha256);
- `copy_assets` copies them into the site's `static/vendor/` (GX copies its own images to `static/images/`);
- `offline_html` points every known CDN URL of a page at the copy, relative to the page, and drops the
  `integrity`/`crossorigin` attributes of those tags (a browser refuses a CORS request to a file:// URL,
  so a local script with `crossorigin` would not run; the copies' bytes are pinned by sha256 instead).
  It also re-points the site's own `static/` links from the page's real depth: GX 1.x links a
  validation page's favicon one folder short.

`resources` lists what a page loads (scripts, stylesheets, images, inline-CSS urls), for the rewrite's
warning about a URL it does not know (a new GX version) and for the tests. Nothing here imports GX.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

from dagster_project import settings

VENDOR = "vendor"  # under the site's static/
TAG = re.compile(r"<(script|link|img)\b[^>]*>", re.IGNORECASE)
ATTRIBUTE_URL = re.compile(r"""\b(src|href)\s*=\s*(["'])(https?://[^"']+)\2""", re.IGNORECASE)
SITE_STATIC = re.compile(r"""\b(src|href)\s*=\s*(["'])(?:\./|(?:\.\./)*)static/([^"']+)\2""", re.IGNORECASE)
SRI_ATTRIBUTES = re.compile(r"""\s+(integrity|crossorigin)(\s*=\s*(["'])[^"']*\3)?""", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')]+)\1\s*\)""", re.IGNORECASE)


def assets_dir() -> Path:
    return settings.EXPECTATIONS_DIR / "data_docs_assets"


def manifest() -> dict:
    return json.loads((assets_dir() / "assets.json").read_text(encoding="utf-8"))


def url_targets(doc: dict | None = None) -> dict[str, str]:
    """CDN URL (without query) -> the file that replaces it, relative to the site's static/ folder."""
    doc = doc or manifest()
    targets = {a["url"]: f"{VENDOR}/{a['file']}" for a in doc["assets"]}
    targets.update({i["url"]: i["static"] for i in doc["gx_images"]})
    return targets


def copy_assets(site_dir: Path, doc: dict | None = None) -> int:
    """Copy the vendored files into `site_dir/static/vendor/` (those missing or of another size); returns
    how many were copied."""
    doc = doc or manifest()
    copied = 0
    for entry in [*doc["assets"], *doc["files"]]:
        source = assets_dir() / entry["file"]
        target = site_dir / "static" / VENDOR / entry["file"]
        if target.exists() and target.stat().st_size == source.stat().st_size:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied += 1
    return copied


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0]


def offline_html(html: str, page: Path, site_dir: Path, targets: dict[str, str]) -> str:
    """The page with every known CDN URL pointing at the site's copy (a path relative to `page`)."""
    static = site_dir / "static"

    def local(url: str) -> str | None:
        target = targets.get(_strip_query(url))
        return None if target is None else Path(os.path.relpath(static / target, page.parent)).as_posix()

    def tag(match: re.Match) -> str:
        text = match.group(0)
        changed = False

        def attribute(m: re.Match) -> str:
            nonlocal changed
            path = local(m.group(3))
            if path is None:
                return m.group(0)
            changed = True
            return f"{m.group(1)}={m.group(2)}{path}{m.group(2)}"

        def site_static(m: re.Match) -> str:
            path = Path(os.path.relpath(static / m.group(3), page.parent)).as_posix()
            return f"{m.group(1)}={m.group(2)}{path}{m.group(2)}"

        text = SITE_STATIC.sub(site_static, ATTRIBUTE_URL.sub(attribute, text))
        return SRI_ATTRIBUTES.sub("", text) if changed else text

    def css_url(m: re.Match) -> str:
        path = local(m.group(2)) if m.group(2).startswith(("http://", "https://")) else None
        return m.group(0) if path is None else f"url({m.group(1)}{path}{m.group(1)})"

    return CSS_URL.sub(css_url, TAG.sub(tag, html))


class _Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "script" and values.get("src"):
            self.found.append(("script", values["src"]))
        elif tag == "link" and values.get("href") and values.get("rel", "").lower() in ("stylesheet", "icon",
                                                                                          "shortcut icon"):
            self.found.append(("link", values["href"]))
        elif tag == "img" and values.get("src"):
            self.found.append(("img", values["src"]))
        elif tag == "style":
            self._in_style = True
        for url in CSS_URL.findall(values.get("style", "")):
            self.found.append(("css", url[1]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.found.extend(("css", url) for _, url in CSS_URL.findall(data))


def resources(html: str) -> list[tuple[str, str]]:
    """What a page loads: (kind, URL) for scripts, stylesheets and icons, images and url() in inline CSS
    (data: URLs left out). Hyperlinks are not loaded, so they are not listed."""
    parser = _Resources()
    parser.feed(html)
    return [(kind, url) for kind, url in parser.found if not url.startswith("data:")]


def external(html: str) -> list[str]:
    """The resources of a page that come from the network."""
    return [url for _, url in resources(html) if url.startswith(("http://", "https://", "//"))]


def page_path(url: str) -> Path | None:
    """The file of a `file://` Data Docs URL (as GX's get_docs_sites_urls returns them)."""
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def make_offline(site_dir: Path, pages: Iterable[Path] | None = None) -> list[str]:
    """Copy the assets into the site and rewrite `pages` (every page of the site when None); returns the
    network resources left in them (URLs no entry of assets.json knows), for the caller to report."""
    doc = manifest()
    targets = url_targets(doc)
    copy_assets(site_dir, doc)
    chosen = sorted(site_dir.rglob("*.html")) if pages is None else [Path(p) for p in pages]
    left: list[str] = []
    for page in dict.fromkeys(chosen):
        if not page.is_file():
            continue
        html = page.read_text(encoding="utf-8")
        rewritten = offline_html(html, page, site_dir, targets)
        if rewritten != html:
            page.write_text(rewritten, encoding="utf-8")
        left += [url for url in external(rewritten) if url not in left]
    return left
