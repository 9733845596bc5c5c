"""The whole pipeline through Prefect: spreadsheets and sandbox stores → warehouse → metrics and commissions → PDF → SMTP.

Real parts only: the demo workspace's spreadsheets, a real SQLite file (and PostgreSQL when
configured), Prefect's test server, WeasyPrint PDFs read back with pdftotext, and an SMTP
server on 127.0.0.1 receiving the mail.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import func, select, text

from warehouse.db import make_engine
from warehouse.models import CommissionLine, Delivery
from yeji.demo import create_demo_workspace
from yeji.demo_stores import serve_demo_stores
from tests.mailbox import serving

END = date(2026, 11, 15)  # a Sunday: the demo's data ends with ISO week 2026-W46
WEEK, MONTH = "2026-W46", "2026-10"


@pytest.fixture(scope="module")
def smtp_server():
    with serving() as (mailbox, port):
        yield mailbox, port


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pipeline(request, tmp_path_factory, smtp_server, prefect_harness):
    """A demo workspace wired to the loopback SMTP server, synced and run for one week and month."""
    from tests.conftest import PG_URL, _reset_postgres

    root = tmp_path_factory.mktemp(f"ws-{request.param}")
    create_demo_workspace(root, seed=11, end=END, weeks=12)
    inbox, port = smtp_server
    inbox.messages.clear()
    config = yaml.safe_load((root / "yeji.yaml").read_text(encoding="utf-8"))
    config["delivery"]["smtp"] = {"host": "127.0.0.1", "port": port, "security": "none", "password_env": None}
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("YEJI_TEST_DATABASE_URL is not set: PostgreSQL case skipped")
        _reset_postgres(PG_URL)
        config["warehouse_url"] = PG_URL
    (root / "yeji.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")

    from flows.monthly_commissions import monthly_commissions
    from flows.sync import sync
    from flows.weekly_review import weekly_review

    with serve_demo_stores(root):  # the demo's online stores: sandbox stores on 127.0.0.1
        first_sync = sync(workspace=str(root))
        second_sync = sync(workspace=str(root))
    weekly = weekly_review(week=WEEK, workspace=str(root))
    sent_after_weekly = len(inbox.messages)
    weekly_again = weekly_review(week=WEEK, workspace=str(root))
    monthly = monthly_commissions(month=MONTH, workspace=str(root))
    url = config.get("warehouse_url", "sqlite:///warehouse.db")
    url = url if not url.startswith("sqlite:///warehouse") else f"sqlite:///{root / 'warehouse.db'}"
    return dict(
        root=root, url=url, inbox=inbox, first_sync=first_sync, second_sync=second_sync, weekly=weekly,
        sent_after_weekly=sent_after_weekly, weekly_again=weekly_again, monthly=monthly,
    )


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def money_text(minor: int) -> str:
    """How the reports print CNY amounts: ¥1,234.56 (minus sign before the symbol)."""
    sign = "-" if minor < 0 else ""
    return f"{sign}¥{abs(minor) // 100:,}.{abs(minor) % 100:02d}"


def test_sync_accounts_for_every_row_and_is_idempotent(pipeline):
    for summary in pipeline["first_sync"]:
        assert summary["ok"], summary
        assert summary["rows_read"] == summary["rows_loaded"] + summary["rows_rejected"], summary
    assert sum(s["inserted"] for s in pipeline["first_sync"]) > 1000
    for summary in pipeline["second_sync"]:
        assert (summary["inserted"], summary["updated"]) == (0, 0), summary


def test_each_member_gets_only_their_own_review_by_email(pipeline):
    weekly, inbox = pipeline["weekly"], pipeline["inbox"]
    reviews = [r for r in weekly["rendered"] if r.report_kind == "weekly_review"]
    assert reviews and all(Path(r.pdf_path).is_file() for r in reviews)
    assert weekly["delivery"].failed == 0
    assert weekly["delivery"].sent == pipeline["sent_after_weekly"] > len(reviews)
    names = {r.recipient_name for r in reviews}
    by_attachment = {
        (recipient, part.get_filename()): (m.message, part)
        for m in inbox.messages[: pipeline["sent_after_weekly"]]
        for recipient in m.rcpt_tos
        for part in m.message.iter_attachments()
    }
    for review in reviews:
        msg, attachment = by_attachment[(review.recipient_email, review.attachment_filename)]
        assert WEEK in str(msg["Subject"])
        assert len(list(msg.iter_attachments())) == 1 and attachment.get_content_type() == "application/pdf"
        attachments = [attachment]
        pdf = attachments[0].get_payload(decode=True)
        assert pdf.startswith(b"%PDF")
        text_ = pdf_text(Path(review.pdf_path))
        assert review.recipient_name in text_
        others = names - {review.recipient_name}
        body = msg.get_body(("html",)).get_content()
        leaks = [n for n in others if n in text_ or n in body]
        assert not leaks, (review.member_id, leaks, [line for line in text_.splitlines() if any(n in line for n in leaks)])


def test_rerunning_a_week_sends_nothing_twice(pipeline):
    again = pipeline["weekly_again"]["delivery"]
    assert again.sent == 0 and again.failed == 0
    assert again.skipped_already_sent == pipeline["weekly"]["delivery"].sent
    engine = make_engine(pipeline["url"])
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(Delivery.__table__).where(Delivery.period == WEEK)).scalar_one()
    engine.dispose()
    assert rows == pipeline["weekly"]["delivery"].sent


def _independent_net_revenue(conn, member_id: str, start: date, end: date, tz: str) -> int:
    """Net revenue in CNY minor units the slow, obvious way: row by row, in Decimal."""
    zone = ZoneInfo(tz)
    rates = defaultdict(list)
    for d, cur, rate in conn.execute(text("SELECT rate_date, from_currency, rate FROM fx_rates WHERE to_currency='CNY'")):
        rates[cur].append((d if isinstance(d, date) else date.fromisoformat(str(d)), Decimal(str(rate))))

    def to_cny(minor: int, currency: str, day: date) -> int:
        if currency == "CNY":
            return minor
        rate = max((r for r in rates[currency] if r[0] <= day), key=lambda r: r[0])[1]
        exp = {"JPY": 0}.get(currency, 2)
        value = Decimal(minor).scaleb(-exp) * rate
        return int(value.scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def local_day(ts) -> date:
        ts = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))
        return ts.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date()

    total = 0
    cancelled = set()
    for src, oid, at, cur, gross, disc, status in conn.execute(
        text("SELECT source, order_id, ordered_at, currency, gross_minor, discount_minor, status FROM orders WHERE member_id = :m"),
        {"m": member_id},
    ):
        if status == "cancelled":
            cancelled.add((src, oid))
            continue
        day = local_day(at)
        if start <= day < end:
            total += to_cny(int(gross) - int(disc), cur, day)
    for osrc, oid, at, cur, amount in conn.execute(
        text("SELECT order_source, order_id, refunded_at, currency, amount_minor FROM refunds WHERE member_id = :m"),
        {"m": member_id},
    ):
        day = local_day(at)
        if start <= day < end and (osrc, oid) not in cancelled:
            total -= to_cny(int(amount), cur, day)
    return total


def test_review_numbers_reconcile_with_the_warehouse(pipeline):
    from transforms.periods import parse_period

    period = parse_period(WEEK)
    reviews = [r for r in pipeline["weekly"]["rendered"] if r.report_kind == "weekly_review"]
    engine = make_engine(pipeline["url"])
    checked = 0
    with engine.connect() as conn:
        for review in reviews:
            expected = _independent_net_revenue(conn, review.member_id, period.start, period.end, "Asia/Shanghai")
            if expected <= 0:
                continue
            text_ = pdf_text(Path(review.pdf_path))
            assert money_text(expected) in text_, (review.member_id, money_text(expected))
            checked += 1
    engine.dispose()
    assert checked >= 5


def test_commission_statements_reconcile_to_the_cent(pipeline):
    monthly = pipeline["monthly"]
    statements = [r for r in monthly["rendered"] if r.report_kind == "commission_statement"]
    assert statements and monthly["delivery"].failed == 0
    engine = make_engine(pipeline["url"])
    table = CommissionLine.__table__
    with engine.connect() as conn:
        stored = dict(
            conn.execute(select(table.c.member_id, func.sum(table.c.amount_minor)).where(table.c.month == MONTH).group_by(table.c.member_id)).all()
        )
        grand = conn.execute(select(func.sum(table.c.amount_minor)).where(table.c.month == MONTH)).scalar_one()
    engine.dispose()
    assert stored and grand == sum(stored.values())
    for statement in statements:
        total = int(stored.get(statement.member_id, 0))
        assert money_text(total) in pdf_text(Path(statement.pdf_path)), (statement.member_id, total)
    finance = [r for r in monthly["rendered"] if r.report_kind == "finance_summary"]
    assert finance and money_text(int(grand)) in pdf_text(Path(finance[0].pdf_path))
    assert any("finance@demo.yeji.local" in m.rcpt_tos for m in pipeline["inbox"].messages)


def test_settle_heap_freezes_once_per_process():
    """The flows move what the process holds before its first run out of the collector's way,
    once: a second call (the next run in a served process) freezes nothing new."""
    import gc

    import flows.common as common

    was = common._heap_settled
    common._heap_settled = False
    try:
        common.settle_heap()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the imported modules, Prefect, pandas
        garbage = [[] for _ in range(1000)]
        common.settle_heap()
        assert gc.get_freeze_count() == frozen, "a second call froze the new objects too"
        del garbage
    finally:
        gc.unfreeze()
        common._heap_settled = was


def test_settled_heap_is_unfrozen_at_exit():
    """Frozen objects are skipped by the interpreter's last collection (extension modules such as
    DuckDB's then report leaks): settle_heap unfreezes at exit. atexit runs last-registered first,
    so a check registered before settle_heap runs after its unfreeze."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count()))\n"
        "from flows.common import settle_heap\n"
        "settle_heap()\n"
        "print('frozen:', gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["frozen: True", "frozen at exit: 0"], done.stdout
