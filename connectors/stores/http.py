"""The HTTP core every store connector shares (httpx).

Public API::

    RetryPolicy(max_attempts, base_delay, max_delay, max_retry_after, sleep)
    RateLimiter(rate_per_second, burst, clock, sleep)   # a token bucket per API operation
    HttpCore(base_url, policy, timeout, headers, auth, secrets, name).request(...) -> Response
    Window(start, end)                                   # half-open [start, end), naive UTC
    next_link(link_header) -> str | None                 # RFC 8288 ``rel="next"``
    load_json(text) -> object                            # every JSON number an exact Decimal
    StoreError / AuthFailed / ResumeRejected

What :meth:`HttpCore.request` does about failures, so connectors do not have to:

* 429 and 5xx responses and transport errors (refused connection, a connection cut
  mid-body, timeouts) are retried with exponential backoff, at most ``max_attempts``
  times in all; a ``Retry-After`` header (seconds or an HTTP date) is honoured instead
  of the backoff (capped at ``max_retry_after``);
* a 2xx body that is not valid JSON (a truncated page) is retried the same way;
* 401/403 raise :class:`AuthFailed` at once (retrying a bad credential only locks it);
* other 4xx raise :class:`StoreError` with the status and the start of the body.

Messages never contain credentials: every value in ``secrets`` is masked.
``sleep`` (and a limiter's ``clock``) are injectable, so tests wait for nothing.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 522, 524})


class StoreError(Exception):
    """A store (or one of its streams) cannot be read now; phrased for the admin."""


class AuthFailed(StoreError):
    """The platform refused the store's credentials."""


class ResumeRejected(StoreError):
    """The platform no longer accepts the page token a sync stopped at."""


@dataclass(frozen=True)
class Window:
    """The half-open interval ``[start, end)`` of change times a sync reads (naive UTC)."""

    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def describe(self) -> str:
        return f"[{iso_z(self.start)}, {iso_z(self.end)})"


def iso_z(moment: datetime) -> str:
    """Naive UTC -> ``2026-11-09T14:30:00Z``."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def load_json(text: str | bytes) -> Any:
    """JSON with every number exact: ``25.37`` is ``Decimal('25.37')``, never a float."""
    return json.loads(text, parse_float=Decimal)


_LINK = re.compile(r'<([^>]+)>\s*;\s*([^,]*?rel="?([^";,]+)"?[^,]*)')


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` target of an RFC 8288 ``Link`` header (Shopify REST page_info)."""
    if not header:
        return None
    for part in header.split(","):
        match = _LINK.search(part.strip())
        if match and "next" in match.group(3).split():
            return match.group(1)
    return None


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` as seconds to wait (delta-seconds or an HTTP date); None if absent or unreadable."""
    if value is None:
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
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now())


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``max_attempts`` tries in all, backoff doubling from ``base_delay``."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 60.0
    max_retry_after: float = 300.0
    jitter: bool = True
    sleep: Callable[[float], None] = time.sleep

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay * (0.5 + random.random() / 2) if self.jitter else delay


@dataclass
class RateLimiter:
    """A token bucket: ``burst`` requests at once, refilled at ``rate`` per second.

    The platform may tell the real rate (Amazon's ``x-amzn-RateLimit-Limit``): :meth:`observe`.
    """

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    tokens: float = field(default=-1.0)
    stamp: float = field(default=0.0)

    def acquire(self) -> None:
        now = self.clock()
        if self.tokens < 0:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            wait = (1 - self.tokens) / self.rate
            self.sleep(wait)
            self.tokens, self.stamp = 1.0, self.stamp + wait
        self.tokens -= 1

    def observe(self, header: str | None) -> None:
        try:
            rate = float(header) if header else None
        except ValueError:
            rate = None
        if rate and rate > 0:
            self.rate = rate


@dataclass(frozen=True)
class Response:
    status: int
    headers: httpx.Headers
    body: Any  # parsed JSON (Decimal numbers), or None when the body was empty
    url: str


class HttpCore:
    """One platform's HTTP client: base URL, auth, bounded retries, exact JSON, masked errors."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        secrets: Iterable[str] = (),
    ):
        self.name = name
        self.policy = policy or RetryPolicy()
        self.secrets = [s for s in secrets if s]
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={"User-Agent": "Yeji/1.0 (+store sync)", **(headers or {})},
            auth=auth,
            follow_redirects=False,
        )
        self.requests = 0  # made, retries included
        self.retries = 0

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "HttpCore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def _where(self, method: str, url: str) -> str:
        return self.mask(f"{self.name}: {method} {url}")

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        limiter: RateLimiter | None = None,
        expect_json: bool = True,
    ) -> Response:
        """Send one request, retrying what is worth retrying; a 2xx :class:`Response` or an exception."""
        policy = self.policy
        last_problem = "no attempt made"
        for attempt in range(1, policy.max_attempts + 1):
            if limiter is not None:
                limiter.acquire()
            self.requests += 1
            retry_after = None
            try:
                raw = self.client.request(method, url, params=params, json=json_body, data=data, headers=headers)
                text = raw.text  # reads the whole body: a connection cut mid-body raises here
            except httpx.TransportError as exc:
                last_problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if limiter is not None:
                    limiter.observe(raw.headers.get("x-amzn-RateLimit-Limit"))
                where = self._where(method, str(raw.request.url))
                if raw.status_code in (401, 403):
                    raise AuthFailed(
                        f"{where}: the platform refused the credentials (HTTP {raw.status_code}): {self.mask(text[:200])}"
                    )
                if raw.status_code in RETRY_STATUSES or raw.status_code >= 500:
                    retry_after = retry_after_seconds(raw.headers.get("Retry-After"))
                    last_problem = f"HTTP {raw.status_code}"
                elif raw.status_code >= 400:
                    raise StoreError(f"{where}: HTTP {raw.status_code}: {self.mask(text[:300])}")
                else:
                    if not expect_json or not text.strip():
                        return Response(raw.status_code, raw.headers, None, str(raw.request.url))
                    try:
                        body = load_json(text)
                    except ValueError as exc:
                        last_problem = f"malformed JSON ({exc})"
                    else:
                        return Response(raw.status_code, raw.headers, body, str(raw.request.url))
            if attempt < policy.max_attempts:
                self.retries += 1
                policy.sleep(policy.backoff(attempt, retry_after))
        raise StoreError(
            f"{self._where(method, self.client.base_url.join(url).__str__())}: gave up after"
            f" {policy.max_attempts} attempt(s); last problem: {self.mask(last_problem)}"
        )
