"""Paging through the providers' organisation APIs: timeouts, retries, cursors and clear errors.

Both OpenAI and Anthropic page by time bucket with an opaque cursor: send `page=<next_page>` until
`has_more` is false. Arrays go as `key[]=a&key[]=b`. 429, 5xx and connection errors are retried with
backoff that honours `Retry-After`, bounded in attempts and in total time. Errors name the endpoint,
the window and the page, and never the key: request headers are not logged or put into messages.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import requests

Params = Sequence[tuple[str, str]]


class ProviderApiError(RuntimeError):
    """A provider request failed for good; the message says which endpoint, window and page."""


class ProviderAuthError(ProviderApiError):
    """The provider refused the admin key (401/403)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request: attempts, total seconds, and the backoff between tries."""

    max_attempts: int = 6
    max_total_seconds: float = 300.0
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    timeout_seconds: float = 60.0


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Parse a `Retry-After` header: delta seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_seconds(attempt: int, policy: RetryPolicy, retry_after: float | None) -> float:
    """Wait before retry number `attempt` (1-based): Retry-After when given, else exponential."""
    if retry_after is not None:
        return min(retry_after, policy.max_backoff_seconds)
    return min(policy.backoff_seconds * (2 ** (attempt - 1)), policy.max_backoff_seconds)


def _is_retryable(status: int) -> bool:
    return status == 429 or status >= 500


@dataclass
class PagedApi:
    """One provider API: a session, its base URL, auth headers, and the env var that holds the key.

    `key_env_var` is only used in messages, so that a refused key is named by where it came from.
    """

    session: requests.Session
    base_url: str
    headers: dict[str, str]
    key_env_var: str
    policy: RetryPolicy = RetryPolicy()
    sleep: Callable[[float], None] = time.sleep

    def get_json(self, path: str, params: Params, where: str) -> tuple[dict, str]:
        """GET one page: (parsed JSON, the response text as received), retrying what is worth retrying.

        `where` describes the request in error messages. The text is kept so the landed file is the
        provider's own bytes, numbers and all.
        """
        url = self.base_url.rstrip("/") + path
        spent = 0.0  # seconds spent on requests and waits, bounded by max_total_seconds
        last_problem = ""
        for attempt in range(1, self.policy.max_attempts + 1):
            retry_after = None
            sent = time.monotonic()
            try:
                response = self.session.get(
                    url, params=list(params), headers=self.headers, timeout=self.policy.timeout_seconds
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_problem = f"connection error ({type(exc).__name__})"
                response = None
            spent += time.monotonic() - sent
            if response is not None:
                status = response.status_code
                if status in (401, 403):
                    raise ProviderAuthError(
                        f"{where}: the provider answered {status}: the admin key in {self.key_env_var} "
                        "was refused. Check that it is an organisation Admin key with usage and cost read "
                        "access."
                    )
                if status == 200:
                    try:
                        body = response.json()
                    except ValueError as exc:
                        raise ProviderApiError(f"{where}: the response is not valid JSON ({exc})") from None
                    if not isinstance(body, dict):
                        raise ProviderApiError(f"{where}: expected a JSON object, got {type(body).__name__}")
                    return body, response.text
                if not _is_retryable(status):
                    raise ProviderApiError(f"{where}: HTTP {status}: {response.text[:300]}")
                last_problem = f"HTTP {status}"
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if attempt == self.policy.max_attempts:
                break
            wait = backoff_seconds(attempt, self.policy, retry_after)
            if spent + wait > self.policy.max_total_seconds:
                break
            self.sleep(wait)
            spent += wait
        raise ProviderApiError(
            f"{where}: gave up after {attempt} attempt(s) in {spent:.1f}s; "
            f"last error: {last_problem}"
        )

    def iter_pages(self, path: str, params: Params, where: str) -> Iterator[tuple[int, dict, str]]:
        """Yield (page number from 1, page body, page text), following `next_page` until `has_more` is false."""
        cursor: str | None = None
        page_no = 1
        while True:
            page_params = list(params) + ([("page", cursor)] if cursor else [])
            body, text = self.get_json(path, page_params, f"{where}, page {page_no}")
            yield page_no, body, text
            if not body.get("has_more"):
                return
            cursor = body.get("next_page")
            if not cursor:
                raise ProviderApiError(f"{where}, page {page_no}: has_more is true but next_page is empty")
            page_no += 1
