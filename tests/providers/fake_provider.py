"""A small local stand-in for the providers' organisation APIs, speaking their documented shapes.

Tests describe a provider's data as a list of daily buckets; this module pages them exactly as the
APIs do (`limit` buckets per page, opaque `next_page` cursor, `has_more`), in OpenAI's unix-second
windows or Anthropic's RFC 3339 ones, and can fail chosen pages.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from werkzeug import Request, Response

UTC = dt.UTC


def day_start(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time(), UTC)


class FakeBucketedEndpoint:
    """Serves `buckets[day] -> list of result dicts` for one endpoint path."""

    def __init__(self, style: str, buckets: dict[dt.date, list[dict]], fail: Callable[[int, int], Response | None] | None = None):
        self.style = style  # "openai" or "anthropic"
        self.buckets = buckets
        self.fail = fail
        self.calls = 0
        self.requests: list[dict] = []

    def _window(self, request: Request) -> tuple[dt.date, dt.date]:
        if self.style == "openai":
            start = dt.datetime.fromtimestamp(int(request.args["start_time"]), UTC).date()
            end = dt.datetime.fromtimestamp(int(request.args["end_time"]), UTC).date()
        else:
            start = dt.datetime.fromisoformat(request.args["starting_at"].replace("Z", "+00:00")).date()
            end = dt.datetime.fromisoformat(request.args["ending_at"].replace("Z", "+00:00")).date()
        return start, end

    def __call__(self, request: Request) -> Response:
        self.calls += 1
        self.requests.append({k: request.args.getlist(k) for k in request.args})
        start, end = self._window(request)
        limit = int(request.args.get("limit", 7))
        offset = int(request.args.get("page", "page_0").removeprefix("page_"))
        page_no = offset // limit + 1
        if self.fail and (failure := self.fail(page_no, self.calls)) is not None:
            return failure
        days = [start + dt.timedelta(days=i) for i in range((end - start).days)]
        chunk = days[offset: offset + limit]
        data = []
        for d in chunk:
            s, e = day_start(d), day_start(d + dt.timedelta(days=1))
            if self.style == "openai":
                data.append({"object": "bucket", "start_time": int(s.timestamp()), "end_time": int(e.timestamp()),
                             "results": self.buckets.get(d, [])})
            else:
                data.append({"starting_at": s.strftime("%Y-%m-%dT%H:%M:%SZ"), "ending_at": e.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "results": self.buckets.get(d, [])})
        more = offset + limit < len(days)
        body = {"data": data, "has_more": more, "next_page": f"page_{offset + limit}" if more else None}
        if self.style == "openai":
            body["object"] = "page"
        return Response(json.dumps(body), content_type="application/json")
