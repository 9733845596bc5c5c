"""Rendering real PDFs from tiny frames and reading them back with pdftotext."""

from __future__ import annotations

import time
from decimal import Decimal
from datetime import datetime

import pytest
import pandas as pd

from tests import test_reports_frames as f
from reports import (
    ReconciliationError,
    render_commission_statements,
    render_finance_summary,
    render_team_summaries,
    render_weekly_reviews,
)
from reports import fonts
from reports.render import PdfWorkerError, PdfWorkers


def _weekly(out_dir, *, metrics=None, generated_at=f.GENERATED, jobs=1):
    return render_weekly_reviews(
        f.member_metrics() if metrics is None else metrics, f.trend(), f.top_customers(), f.quiet_customers(),
        f.commission_lines("2026-11"), f.members(), f.teams(), f.WEEK, f.settings(), out_dir,
        generated_at=generated_at, jobs=jobs)


@pytest.fixture(scope="module")
def weekly(tmp_path_factory):
    out = tmp_path_factory.mktemp("weekly")
    started = time.perf_counter()
    items = _weekly(out)
    return {i.member_id: i for i in items}, time.perf_counter() - started


@pytest.fixture(scope="module")
def statements(tmp_path_factory):
    lines = f.commission_lines(m1_lines=70)  # long enough to run over a page
    return {i.member_id: i for i in render_commission_statements(
        lines, f.commission_summary(lines), f.members(), f.teams(), f.MONTH, f.settings(),
        tmp_path_factory.mktemp("statements"), generated_at=f.GENERATED)}


# ----------------------------------------------------------------------------- weekly review


def test_one_review_per_active_member_and_none_for_the_inactive(weekly):
    items, _ = weekly
    assert sorted(items) == ["M1", "M2", "M3", "M9"]  # M4 is inactive
    assert all(i.pdf_path.read_bytes().startswith(b"%PDF") for i in items.values())
    assert items["M1"].pdf_path.name == "2026-W46_weekly_review_M1.pdf"


def test_weekly_review_in_chinese_shows_the_members_numbers(weekly):
    item = weekly[0]["M1"]
    text = f.pdf_text(item.pdf_path)
    for expected in (
        "杭州义吉进出口有限公司", "个人业绩周报", "张伟", "华东一组", "2026-W46 · 11月9日–11月15日",
        "净销售额", "¥12,345.67",  # net revenue, exact from 1,234,567 minor units
        "目标达成率", "82.3%", "¥15,000.00",  # attainment and target
        "▲ 23.5%", "较上周",  # net revenue change vs 1,000,000
        "团队排名", "本周关键指标", "订单数", "客单价", "毛利率", "退款率", "本期回款", "待回款", "24小时回复率", "询盘转化率",
        "▲ 5.0 个百分点",  # margin 25% vs 20% last week (from the previous week's row)
        "近 12 周净销售额趋势", "W46", "W35",
        "Müller Handels GmbH", "德国", "¥6,000.00",
        "沉寂客户", "Al Noor Trading LLC", "重点客户", "106 天", "¥98,765.43",
        "本月佣金", "¥380.96",  # 2026-11 lines of M1: 20,000 - 2,400 + 20,496 (minor units)
        "第 1 页，共 2 页", "生成于 2026-11-16 08:00（Asia/Shanghai）",
    ):
        assert expected in text, expected
    assert "李娜" not in text and "¥8,888.00" not in text  # another member's figures never appear
    assert "Casa Bella" not in text


def test_member_without_email_gets_a_pdf_and_no_recipient(weekly):
    item = weekly[0]["M2"]
    assert item.recipient_email is None and item.pdf_path.exists()
    assert "no email" in item.no_recipient_reason and "M2" in item.no_recipient_reason
    text = f.pdf_text(item.pdf_path)
    assert "¥8,888.00" in text and "成本未知" in text  # unknown cost is shown as unknown, never as zero


def test_weekly_review_in_english(weekly):
    item = weekly[0]["M3"]
    assert item.language == "en"
    assert item.subject == "Weekly performance review 2026-W46 (9–15 Nov) – Olivia Chen"
    assert item.attachment_filename == "weekly-review_2026-W46_Olivia-Chen.pdf"
    text = f.pdf_text(item.pdf_path)
    for expected in ("Weekly performance review", "Olivia Chen", "2026-W46 · 9–15 Nov 2026", "Net revenue",
                     "CN¥5,555.55", "Attainment", "No target set", "Rank in team", "Top 5 customers this week",
                     "Sakura Zakka 株式会社", "Japan", "Page 1 of", "Generated 2026-11-16 08:00 (Asia/Shanghai)"):
        assert expected in text, expected
    assert "净销售额" not in text


def test_usd_team_review_formats_dollars(weekly):
    text = f.pdf_text(weekly[0]["M9"].pdf_path)
    assert "US$999.99" in text and "Pacific Gear Inc." in text


def test_content_hash_ignores_the_generated_stamp_but_not_the_numbers(weekly, tmp_path):
    before = weekly[0]
    again = {i.member_id: i for i in _weekly(tmp_path / "again", generated_at=datetime(2026, 11, 17, 9, 30))}
    assert again["M1"].content_hash == before["M1"].content_hash
    assert "2026-11-17 09:30" in f.pdf_text(again["M1"].pdf_path)
    metrics = f.member_metrics()
    metrics.loc[(metrics["member_id"] == "M1") & (metrics["period"] == f.WEEK), "orders"] = 13
    changed = {i.member_id: i for i in _weekly(tmp_path / "changed", metrics=metrics)}
    assert changed["M1"].content_hash != before["M1"].content_hash
    assert changed["M3"].content_hash == before["M3"].content_hash


def test_email_bodies_carry_only_the_recipients_numbers(weekly):
    items = weekly[0]
    m1 = items["M1"]
    assert m1.subject == "【业绩周报】2026-W46（11月9日–11月15日） 张伟"
    for body in (m1.html_body, m1.text_body):
        assert "¥12,345.67" in body and "张伟" in body
        assert "¥8,888.00" not in body and "CN¥5,555.55" not in body and "李娜" not in body
    assert "Olivia Chen" in items["M3"].text_body and "CN¥5,555.55" in items["M3"].html_body


def test_render_time_is_reported_and_reasonable(weekly):
    items, took = weekly
    per_pdf = [i.render_seconds for i in items.values()]
    print(f"\nweekly reviews: {len(items)} PDFs in {took:.2f}s; per PDF {min(per_pdf):.2f}-{max(per_pdf):.2f}s "
          f"(fonts: {fonts.font_mode()})")
    assert all(0 < s < 30 for s in per_pdf)


def test_parallel_rendering_gives_the_same_reports(weekly, tmp_path, monkeypatch):
    import reports.render

    monkeypatch.setattr(reports.render, "MIN_PDFS_FOR_WORKERS", 1)  # fan out even this small batch
    serial = list(weekly[0].values())
    with PdfWorkers(2) as workers:
        workers.start().wait_ready()  # so that the worker surely takes some of the four PDFs
        parallel = _weekly(tmp_path / "pool", jobs=workers)
        assert workers.last_batch["pdfs_by_process"][1] >= 1, workers.last_batch  # the worker wrote some
        again = _weekly(tmp_path / "again", jobs=workers)  # one pool serves several batches
    by_int = _weekly(tmp_path / "int", jobs=2)  # workers started and closed by the call itself
    for items in (parallel, again, by_int):
        assert [i.member_id for i in items] == [i.member_id for i in serial]  # same order
        assert [i.content_hash for i in items] == [i.content_hash for i in serial]
        assert [f.pdf_text(i.pdf_path) for i in items] == [f.pdf_text(i.pdf_path) for i in serial]
        assert all(i.render_seconds > 0 for i in items)


def _within(seconds: float, call):
    """``call()``'s exception or result, failing the test if it takes longer than ``seconds``
    (a hang is the failure this guards against)."""
    import threading

    outcome: dict = {}

    def run():
        try:
            outcome["result"] = call()
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s: hung"
    return outcome


def _review_tasks(tmp_path, count: int):
    """The final HTML of the weekly reviews, ``count`` PDFs' worth (the four repeated)."""
    import reports.render

    html = [reports.render.render_html(ctx) for ctx in _contexts()]
    return [(html[k % len(html)], tmp_path / f"review-{k}.pdf") for k in range(count)]


def _contexts():
    from reports import context

    return context.build_weekly_reviews(
        f.member_metrics(), f.trend(), f.top_customers(), f.quiet_customers(), f.commission_lines("2026-11"),
        f.members(), f.teams(), f.WEEK, f.settings(), font=fonts.font_stack())


@pytest.mark.parametrize("when", ["before the batch", "during the batch"])
def test_a_worker_that_dies_fails_the_batch_with_a_clear_error_not_a_hang(tmp_path, when):
    import os
    import signal
    import threading

    setup = fonts.prepare_fonts()
    tasks = _review_tasks(tmp_path, 10)
    workers = PdfWorkers(2).start()
    [pid] = workers.pids
    workers.wait_ready()
    if when == "before the batch":
        os.kill(pid, signal.SIGKILL)
    else:  # the worker is busy by then: ten PDFs take several seconds
        threading.Timer(0.3, os.kill, (pid, signal.SIGKILL)).start()
    outcome = _within(120, lambda: workers.write(tasks, setup.face_css, setup.stack))
    error = outcome.get("error")
    assert isinstance(error, PdfWorkerError), outcome
    assert f"PDF worker process {pid} was killed by SIGKILL" in str(error) and "the batch failed" in str(error)
    assert not workers.started  # closed: nothing left running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped by the pool: no zombie left behind


def test_a_pdf_a_worker_cannot_write_fails_the_batch_naming_the_file(tmp_path):
    setup = fonts.prepare_fonts()
    (tmp_path / "blocker").write_text("a file where a folder should be")
    tasks = _review_tasks(tmp_path, 4)
    bad = [(html, tmp_path / "blocker" / f"bad-{k}.pdf") for k, (html, _path) in enumerate(tasks)]
    with PdfWorkers(2) as workers:
        workers.start().wait_ready()
        outcome = _within(120, lambda: workers.write(tasks[:2] + bad, setup.face_css, setup.stack))
    error = outcome.get("error")
    assert isinstance(error, (PdfWorkerError, OSError)), outcome  # the worker's or the caller's own
    assert "blocker" in str(error)
    assert not list(tmp_path.glob("blocker*/*.pdf")) and not list(tmp_path.glob(".tmp-*"))


def test_small_batches_stay_in_one_process(tmp_path):
    import reports.render

    setup = fonts.prepare_fonts()
    tasks = _review_tasks(tmp_path, reports.render.MIN_PDFS_FOR_WORKERS - 1)
    with PdfWorkers(2) as workers:
        reports.render._render(_contexts()[:1], f.settings(), tmp_path / "one", workers, f.GENERATED)
        assert not workers.started  # one review: not worth a worker
    seconds = reports.render.write_pdfs(tasks, setup.face_css, setup.stack, jobs=2)
    assert len(seconds) == len(tasks) and all(path.exists() for _html, path in tasks)


@pytest.mark.parametrize("font_mode", ["", "prepared"])
def test_a_rare_name_character_is_rendered_not_dropped(tmp_path, monkeypatch, font_mode):
    """Both font paths: the default (system fonts when HarfBuzz-subset is installed) and the
    prepared CJK subset that keeps rendering fast without it."""
    import subprocess

    monkeypatch.setenv("YEJI_PDF_FONTS", font_mode)
    people = f.members()
    people.loc[people["member_id"] == "M1", "name"] = "王喆堃"  # neither character is in GB2312
    items = render_weekly_reviews(
        f.member_metrics().query("member_id == 'M1'"), f.trend(), f.top_customers(), f.quiet_customers(),
        f.commission_lines("2026-11"), people, f.teams(), f.WEEK, f.settings(), tmp_path, generated_at=f.GENERATED)
    assert "王喆堃" in f.pdf_text(items[0].pdf_path)
    embedded = subprocess.run(["pdffonts", str(items[0].pdf_path)], capture_output=True, text=True).stdout
    if font_mode == "prepared" and fonts.font_mode() == "prepared":
        assert "Yeji-Sans-SC" in embedded and "Noto-Sans-CJK" not in embedded  # no fallback to the big font
    assert "Serif" not in embedded  # margin boxes and SVG text use the sans stack too


# ----------------------------------------------------------------------------- team summary


def test_team_summary_for_the_lead(tmp_path):
    items = render_team_summaries(
        f.team_metrics(), f.member_metrics(), f.mix("platform"), f.mix("country"), f.quiet_customers(), f.members(),
        f.teams(), f.WEEK, f.settings(), tmp_path, trend=f.trend(), generated_at=f.GENERATED)
    by_team = {i.team_id: i for i in items}
    t1 = by_team["T1"]
    assert t1.recipient_email == "zhang.wei@example.com" and t1.language == "zh-CN"
    text = f.pdf_text(t1.pdf_path)
    for expected in ("团队业绩周报", "华东一组", "负责人：张伟", "成员排行榜", "张伟", "李娜", "Olivia Chen",
                     "¥12,345.67", "¥8,888.00", "¥5,555.55", "¥26,789.22",  # members and the team's net revenue
                     "平台构成", "亚马逊", "62.5%", "国家/地区构成", "美国", "50.0%",
                     "风险客户", "Al Noor Trading LLC", "Casa Bella S.r.l.", "¥98,765.43"):
        assert expected in text, expected
    assert "郑凯 已离职" in text  # an inactive member with a row this week is listed, and marked
    t2 = by_team["T2"]
    assert t2.language == "en" and "Team weekly summary" in f.pdf_text(t2.pdf_path)
    assert "¥12,345.67" not in t2.html_body and "US$999.99" in t2.html_body


# ----------------------------------------------------------------------------- commission statement


def test_statement_lists_every_line_and_its_total_equals_their_sum(statements):
    item = statements["M1"]
    lines = f.commission_lines(m1_lines=70)
    mine = lines[lines["member_id"] == "M1"]
    total = int(mine["amount_minor"].sum())
    base = int(mine["base_minor"].sum())
    text = f.pdf_text(item.pdf_path)
    for order_id in mine["order_id"]:
        assert order_id in text
    whole, cents = divmod(total, 100)
    expected_total = f"{whole:,}.{cents:02d}"
    assert f"合计 · 明细条数 70" in text
    assert expected_total in text and f"¥{expected_total}" in text  # total row and summary card
    assert f"{base // 100:,}.{base % 100:02d}" in text
    assert "结算单合计与全部明细之和一致（70 条）" in text
    assert "退款冲回" in text and "7.1034" in text and "2%" in text and "-1,200.00" in text


def test_statement_repeats_the_table_header_on_every_page(statements):
    path = statements["M1"].pdf_path
    pages = f.pdf_pages(path)
    assert pages >= 2
    for page in range(2, pages + 1):
        text = f.pdf_text(path, page, page)
        assert "订单 / 来源" in text and "计佣基数 (CNY)" in text, page
        assert f"第 {page} 页，共 {pages} 页" in text


def test_statement_in_english_and_plan_description(statements):
    item = statements["M9"]
    text = f.pdf_text(item.pdf_path)
    for expected in ("Monthly commission statement", "Daniel Wu", "October 2026", "Online flat 4%", "Flat rate 4%",
                     "US$40.00", "#1001", "Total"):
        assert expected in text, expected
    zh = f.pdf_text(statements["M3"].pdf_path)  # Olivia reads English; the tiers are in the plan text
    assert "Tiered, marginal on the month's running total" in zh and "50,000 and above" in zh


def test_statement_refuses_a_total_that_is_not_the_sum_of_its_lines(tmp_path):
    lines = f.commission_lines()
    summary = f.commission_summary(lines)
    summary.loc[summary["member_id"] == "M1", "amount_minor"] += 1  # one cent off
    with pytest.raises(ReconciliationError, match="M1"):
        render_commission_statements(lines, summary, f.members(), f.teams(), f.MONTH, f.settings(), tmp_path)
    assert not list(tmp_path.glob("*.pdf"))


def test_missing_column_is_named(tmp_path):
    lines = f.commission_lines().drop(columns=["fx_rate"])
    with pytest.raises(KeyError, match="commission_lines: missing column.*fx_rate"):
        render_commission_statements(lines, f.commission_summary(f.commission_lines()), f.members(), f.teams(),
                                     f.MONTH, f.settings(), tmp_path)


# ----------------------------------------------------------------------------- finance summary


def test_finance_summary_per_recipient_language_and_reconciled(tmp_path):
    lines = f.commission_lines()
    items = render_finance_summary(f.commission_summary(lines), lines, f.members(), f.teams(), f.MONTH, f.settings(),
                                   tmp_path, generated_at=f.GENERATED)
    by_recipient = {i.recipient_email: i for i in items}
    assert set(by_recipient) == {"finance@example.com", "olivia.chen@example.com"}
    zh, en = by_recipient["finance@example.com"], by_recipient["olivia.chen@example.com"]
    assert (zh.language, en.language) == ("zh-CN", "en") and zh.pdf_path != en.pdf_path
    text = f.pdf_text(zh.pdf_path)
    cny = int(lines.loc[lines["currency"] == "CNY", "amount_minor"].sum())
    for expected in ("月度佣金财务汇总", "2026年10月", "按币种合计", f"¥{cny // 100:,}.{cny % 100:02d}", "US$40.00",
                     "合计 · CNY", "合计 · USD", "各币种合计与佣金明细之和核对一致", "未配置佣金方案的成员", "李娜"):
        assert expected in text, expected
    assert "Commission finance summary" in f.pdf_text(en.pdf_path)


def test_finance_summary_without_recipients_still_renders(tmp_path):
    lines = f.commission_lines()
    items = render_finance_summary(f.commission_summary(lines), None, f.members(), f.teams(), f.MONTH,
                                   f.settings(finance_recipients=[]), tmp_path)
    assert len(items) == 1 and items[0].recipient_email is None and items[0].pdf_path.exists()
    assert "finance_recipients" in items[0].no_recipient_reason


def test_names_with_markup_characters_are_escaped_everywhere(tmp_path):
    settings = f.settings().model_copy(update={"company": 'Lee & Sons "Trading" <Intl>'})
    quiet = f.quiet_customers()
    quiet.loc[0, "customer_name"] = "<b>Bold</b> & Co"
    items = render_weekly_reviews(
        f.member_metrics().query("member_id == 'M1'"), f.trend(), f.top_customers(), quiet,
        f.commission_lines("2026-11"), f.members(), f.teams(), f.WEEK, settings, tmp_path, generated_at=f.GENERATED)
    text = f.pdf_text(items[0].pdf_path)
    assert 'Lee & Sons "Trading" <Intl>' in text  # the running header (a CSS string) and the footer
    assert "<b>Bold</b> & Co" in text  # shown literally, not interpreted
    assert "&amp;" not in text


# ----------------------------------------------------------------------------- statement: every kind of line


def _explained_lines() -> tuple:
    """M1 on a staged plan with role coefficients and evaluation: an order partly held, a
    clawback, a stage release, an evaluation multiplier, a draw and an adjustment of a closed
    month — the structured fields the engine stores, with its English ``explanation``."""
    from config.models import Settings

    base = f.settings().model_dump(by_alias=True)
    base["commission"] = {"plans": [{
        "plan_id": "staged", "name": "外贸分阶段提成", "kind": "flat", "rate": "0.02",
        "stages": [{"event": "signed", "percent": 30}, {"event": "collected", "percent": 70}],
        "role_coefficients": {"lead": "0.5", "sales": "1"},
        "evaluation": {"weights": {"skill": 1}, "missing": "neutral"},
        "draw": {"amount": 3000, "recoverable": True},
    }]}
    settings = Settings.model_validate(base)
    month = f.MONTH
    day = pd.Timestamp(f"{month}-03")
    rows = [  # line_type, rule, kind, order, record, base, rate, multiplier, amount, held, adjusts, fx
        ("credit", "flat", "order", "SO-1", "SO-1", 1_000_000, Decimal("0.02"), Decimal("0.5"), 3_000, 7_000, None, Decimal("7.1")),
        ("clawback", "clawback", "refund", "SO-0", "RF-9", -50_000, None, None, -300, 0, None, Decimal(1)),
        ("release", "stage_release", "release", "SO-0", "SO-0", 0, None, None, 1_400, 0, None, None),
        ("member", "evaluation", None, None, None, 0, None, Decimal("1.1"), 410, 0, None, None),
        ("draw", "draw_recoverable", "draw", None, None, 0, None, None, 1_000, 0, None, None),
        ("adjustment", "credit/flat", "adjustment", "SO-7", "SO-7", 0, None, None, 600, 0, "2026-09", None),
    ]
    frame = pd.DataFrame([{
        "month": month, "member_id": "M1", "plan_id": "staged", "order_source": "erp" if o else None, "order_id": o,
        "credited_at": day, "rule": rule, "band": None, "base_minor": b, "rate": rate, "fx_rate": fx,
        "amount_minor": a, "currency": "CNY", "explanation": f"English sentence {i}", "team_id": "T1", "kind": kind,
        "record_id": rec, "credited_date": day, "cumulative_base_minor": 1_000_000, "cumulative_amount_minor": 0,
        "line_type": lt, "multiplier": mult, "held_minor": h, "plan_currency": "CNY", "payout_fx_rate": None,
        "adjusts_month": adj,
    } for i, (lt, rule, kind, o, rec, b, rate, mult, a, h, adj, fx) in enumerate(rows)])
    return frame, f.commission_summary(frame).assign(lines=len(frame)), settings


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_statement_explains_each_line_in_the_readers_language(tmp_path, lang):
    lines, summary, settings = _explained_lines()
    members = f.members().assign(language=lang)
    [item] = [i for i in render_commission_statements(lines, summary, members, f.teams(), f.MONTH, settings, tmp_path,
                                                       generated_at=f.GENERATED) if i.member_id == "M1"]
    text = " ".join(f.pdf_text(item.pdf_path).split())
    assert "English sentence" not in text  # the engine's sentence is not dumped into the report
    expected = {
        "zh-CN": ["暂扣", "70.00", "签约 30% · 回款 70%", "组长角色系数 ×0.5", "暂扣部分待回款后发放", "追回订单 SO-0",
                  "往月订单已回款", "按本月考评得分：×1.1", "预支（可扣回）", "更正 2026-09", "往月更正",
                  "订单明细", "月度计算项", "其中往月更正", "¥61.10"],
        "en": ["Held", "70.00", "signed 30% · collected 70%", "Team lead role coefficient ×0.5", "held part paid when collected",
               "claws back what order SO-0 earned", "an earlier order is collected", "evaluation score: ×1.1",
               "Draw (recoverable)", "corrects 2026-09", "Adjustments to closed months", "CN¥61.10"],
    }[lang]
    squeezed = "".join(text.split())  # pdftotext wraps the notes anywhere
    for snippet in expected:
        assert "".join(snippet.split()) in squeezed, snippet
    assert sum(lines["amount_minor"]) == 6_110  # the total shown equals the sum of lines


def test_finance_summary_shows_held_and_adjustments(tmp_path):
    lines, summary, settings = _explained_lines()
    [item] = render_finance_summary(summary, lines, f.members(), f.teams(), f.MONTH, settings.model_copy(
        update={"delivery": settings.delivery.model_copy(update={"finance_recipients": []})}), tmp_path,
        generated_at=f.GENERATED)
    text = "".join(f.pdf_text(item.pdf_path).split())
    assert "暂扣待发" in text and "往月更正" in text and "70.00" in text and "6.00" in text
