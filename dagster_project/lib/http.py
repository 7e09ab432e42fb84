"""HTTP for every outbound call: one retry mechanism, timeouts, and paging through the providers' APIs.

Retries are urllib3's `Retry`, mounted on the `requests` session (`retrying_session`), for the provider
clients and the alert webhook alike: 429 and 5xx answers, connection errors and read timeouts are
retried with exponential backoff, a `Retry-After` header (seconds or an HTTP date) is honoured, and
both kinds of wait are capped. A call is bounded by its attempts, the timeout of each and the cap on
each wait (`RetryPolicy.worst_case_seconds`). POST is retried only where the policy says so.

Both OpenAI and Anthropic page by time bucket with an opaque cursor: send `page=<next_page>` until
`has_more` is false. Arrays go as `key[]=a&key[]=b`. Errors name the endpoint, the window and the page,
and never the key: request headers are not logged or put into messages. A URL that carries a secret
(a webhook token) is registered with `hide_from_logs`, so urllib3's own log lines name only its host.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import requests
import requests.adapters
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

Params = Sequence[tuple[str, str]]

# 429 Too Many Requests and every 5xx; anything else (400, 401, 404, ...) is the request's own fault
RETRY_STATUSES = frozenset({429, *range(500, 600)})


class ProviderApiError(RuntimeError):
    """A provider request failed for good; the message says which endpoint, window and page."""


class ProviderAuthError(ProviderApiError):
    """The provider refused the admin key (401/403)."""


class _Retry(Retry):
    """urllib3's `Retry`, except that an unreadable `Retry-After` falls back to the backoff instead of
    failing the call."""

    def get_retry_after(self, response) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request.

    `max_attempts` counts the first try. The wait before retry n (n >= 2) is
    `backoff_seconds * 2 ** (n - 1)` (the first retry follows at once), or the server's `Retry-After`
    when it sends one; either is capped at `max_wait_seconds`. `timeout_seconds` applies to connecting
    and to each read. `retry_post` allows retrying POST, which is only right for a receiver that can
    take the same request twice.
    """

    max_attempts: int = 6
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 60.0
    timeout_seconds: float = 60.0
    retry_post: bool = False

    def retry(self) -> Retry:
        """The urllib3 `Retry` this policy describes."""
        methods = Retry.DEFAULT_ALLOWED_METHODS | {"POST"} if self.retry_post else Retry.DEFAULT_ALLOWED_METHODS
        return _Retry(
            total=self.max_attempts - 1,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=methods,
            backoff_factor=self.backoff_seconds,
            backoff_max=self.max_wait_seconds,
            respect_retry_after_header=True,
            retry_after_max=self.max_wait_seconds,
            raise_on_status=False,  # the last answer comes back, so errors can say which status it was
        )

    def worst_case_seconds(self) -> float:
        """An upper bound on one call when the server answers slowly: every attempt waits out its
        connect and read timeouts and every pause is the longest allowed."""
        return self.max_attempts * 2 * self.timeout_seconds + (self.max_attempts - 1) * self.max_wait_seconds


def retrying_session(policy: RetryPolicy) -> requests.Session:
    """A `requests` session whose http and https adapters retry as `policy` says."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(max_retries=policy.retry())
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def attempts_made(response: requests.Response) -> int:
    """How many times the request behind `response` was sent (1 when it was not retried)."""
    retries = getattr(response.raw, "retries", None)
    return len(retries.history) + 1 if retries is not None else 1


def describe_failure(exc: requests.RequestException, policy: RetryPolicy) -> str:
    """What went wrong, by exception class only: the text of a requests error holds the URL."""
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        reason = type(cause.reason).__name__ if cause.reason is not None else type(exc).__name__
        return f"gave up after {policy.max_attempts} attempt(s); last error: connection error ({reason})"
    return f"request failed ({type(exc).__name__})"


class _HideSecrets(logging.Filter):
    """Replaces registered secrets in urllib3's log records (its retry warnings name the request path)."""

    secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = sorted(self.secrets, key=len, reverse=True)  # longest first: one may contain another
        if secrets:
            message = record.getMessage()
            hidden = message
            for secret in secrets:
                hidden = hidden.replace(secret, "[hidden]")
            if hidden != message:
                record.msg, record.args = hidden, None
        return True


_HIDE_SECRETS = _HideSecrets()
for _name in ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "urllib3.poolmanager"):
    logging.getLogger(_name).addFilter(_HIDE_SECRETS)


def hide_from_logs(url: str) -> None:
    """Keep everything after the host of `url` (path and query, where webhook tokens live) out of
    urllib3's log lines for the rest of the process."""
    target = requests.Request("GET", url).prepare().path_url
    if target not in ("", "/"):
        _HideSecrets.secrets.add(target)


@dataclass
class PagedApi:
    """One provider API: its base URL, auth headers, the env var that holds the key, and a session that
    retries as `policy` says (built from the policy unless one is given).

    `key_env_var` is only used in messages, so that a refused key is named by where it came from.
    """

    base_url: str
    headers: dict[str, str]
    key_env_var: str
    policy: RetryPolicy = RetryPolicy()
    session: requests.Session | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.session is None:
            self.session = retrying_session(self.policy)

    def get_json(self, path: str, params: Params, where: str) -> tuple[dict, str]:
        """GET one page: (parsed JSON, the response text as received); the session retries what is
        worth retrying.

        `where` describes the request in error messages. The text is kept so the landed file is the
        provider's own bytes, numbers and all.
        """
        url = self.base_url.rstrip("/") + path
        try:
            response = self.session.get(url, params=list(params), headers=self.headers, timeout=self.policy.timeout_seconds)
        except requests.RequestException as exc:
            raise ProviderApiError(f"{where}: {describe_failure(exc, self.policy)}") from None
        status = response.status_code
        if status in (401, 403):
            raise ProviderAuthError(
                f"{where}: the provider answered {status}: the admin key in {self.key_env_var} "
                "was refused. Check that it is an organisation Admin key with usage and cost read "
                "access."
            )
        if status in RETRY_STATUSES:
            raise ProviderApiError(f"{where}: gave up after {attempts_made(response)} attempt(s); last error: HTTP {status}")
        if status != 200:
            raise ProviderApiError(f"{where}: HTTP {status}: {response.text[:300]}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderApiError(f"{where}: the response is not valid JSON ({exc})") from None
        if not isinstance(body, dict):
            raise ProviderApiError(f"{where}: expected a JSON object, got {type(body).__name__}")
        return body, response.text

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
