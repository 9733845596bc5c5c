"""The shared HTTP core against a real local server: retries, Retry-After, cuts, bad JSON, auth."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.stores.http import (
    AuthFailed, HttpCore, RateLimiter, RetryPolicy, StoreError, load_json, next_link, retry_after_seconds,
)
from tests.store_sims import FakeClock, Reply, Sim, serve


class Script(Sim):
    """Replies from a list, one per request; then a fixed good reply."""

    def __init__(self, replies: list[Reply]):
        super().__init__()
        self.replies = replies

    def handle(self, method, path, query, headers, body):
        return self.replies.pop(0) if self.replies else Reply(200, {"ok": True, "amount": "1"}, raw=b'{"ok": true, "amount": 25.37}')


def _core(url: str, clock: FakeClock, attempts: int = 5, secrets=()) -> HttpCore:
    return HttpCore(url, name="store t", policy=clock.policy(attempts), timeout=5, secrets=secrets)


def test_json_numbers_are_exact_decimals():
    assert load_json('{"CurrencyAmount": 25.37, "n": 3}') == {"CurrencyAmount": Decimal("25.37"), "n": 3}


def test_5xx_burst_then_success_backs_off_exponentially():
    clock = FakeClock()
    sim = Script([Reply(500, {}), Reply(502, {}), Reply(503, {})])
    with serve(sim) as url, _core(url, clock) as core:
        response = core.request("GET", "/x")
    assert response.body["amount"] == Decimal("25.37")
    assert clock.sleeps == [0.01, 0.02, 0.04]
    assert core.requests == 4


def test_429_honours_retry_after_seconds_and_http_date():
    clock = FakeClock()
    sim = Script([Reply(429, {}, {"Retry-After": "7"}), Reply(429, {}, {"Retry-After": "0.25"})])
    with serve(sim) as url, _core(url, clock) as core:
        core.request("GET", "/x")
    assert clock.sleeps == [7.0, 0.25]
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412480.0 - 30) == pytest.approx(30)
    assert retry_after_seconds("soon") is None


def test_attempts_are_bounded_and_the_message_says_why():
    clock = FakeClock()
    sim = Script([Reply(503, {})] * 10)
    with serve(sim) as url, _core(url, clock, attempts=3) as core:
        with pytest.raises(StoreError, match=r"gave up after 3 attempt\(s\); last problem: HTTP 503"):
            core.request("GET", "/x")
    assert len(clock.sleeps) == 2


def test_connection_cut_mid_body_and_truncated_json_are_retried():
    clock = FakeClock()
    sim = Script([Reply(200, raw=b'{"orders": [{"id": 1}, {"id": 2', cut=True), Reply(200, raw=b'{"orders": [')])
    with serve(sim) as url, _core(url, clock) as core:
        assert core.request("GET", "/x").body["ok"] is True
    assert core.retries == 2


def test_bad_credentials_fail_at_once_and_secrets_are_masked():
    clock = FakeClock()
    sim = Script([Reply(401, {"errors": "Invalid API key shpat_secret123"})])
    with serve(sim) as url, _core(url, clock, secrets=["shpat_secret123"]) as core:
        with pytest.raises(AuthFailed) as info:
            core.request("GET", "/x")
    assert "HTTP 401" in str(info.value) and "shpat_secret123" not in str(info.value) and "***" in str(info.value)
    assert clock.sleeps == []


def test_other_client_errors_are_not_retried():
    clock = FakeClock()
    with serve(Script([Reply(404, {"errors": "Not Found"})])) as url, _core(url, clock) as core:
        with pytest.raises(StoreError, match="HTTP 404"):
            core.request("GET", "/x")
    assert clock.sleeps == []


def test_link_header_next():
    header = ('<https://s.myshopify.com/admin/api/2025-01/orders.json?limit=2&page_info=abc>; rel="previous", '
              '<https://s.myshopify.com/admin/api/2025-01/orders.json?limit=2&page_info=def>; rel="next"')
    assert next_link(header).endswith("page_info=def")
    assert next_link('<https://x/y?page_info=abc>; rel="previous"') is None
    assert next_link(None) is None


def test_rate_limiter_spends_burst_then_paces_and_learns_the_header_rate():
    clock = FakeClock()
    limiter = RateLimiter(rate=0.5, burst=2, clock=lambda: clock.now, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
    assert clock.sleeps == [2.0]
    limiter.observe("10.0")
    limiter.acquire()
    assert clock.sleeps[-1] == pytest.approx(0.1)


def test_retry_policy_jitter_stays_within_the_backoff():
    policy = RetryPolicy(base_delay=1, max_delay=8)
    for n in range(1, 7):
        full = min(8, 2 ** (n - 1))
        assert 0.5 * full <= policy.backoff(n) <= full
