"""The one Jinja environment: autoescaped, strict, with Yeji's formatting filters.

Every filter reads the language from the template's ``lang`` variable, so a
template writes ``{{ r.headline.net_revenue | money }}`` and gets ``¥12,345.67``
or ``CN¥12,345.67`` as the recipient reads. ``t('kpi.orders')`` is the label.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape

from reports import formatting as fmt
from reports.i18n import code_name, t as translate

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


def _lang(context) -> str:
    return context["lang"]


@pass_context
def _t(context, key: str, **values) -> str:
    return translate(key, _lang(context), **values)


@pass_context
def _money(context, value, symbol: bool = True) -> str:
    return fmt.format_money(value, _lang(context), symbol=symbol)


@pass_context
def _amount(context, value) -> str:
    return fmt.format_money(value, _lang(context), symbol=False)


@pass_context
def _change(context, value) -> str:
    return fmt.format_change(value, _lang(context))


@pass_context
def _date(context, value, style: str = "iso") -> str:
    return fmt.format_date(value, _lang(context), style)


@pass_context
def _period(context, value) -> str:
    return fmt.format_period(value, _lang(context))


@pass_context
def _period_short(context, value) -> str:
    return fmt.format_period_short(value, _lang(context))


@pass_context
def _value(context, value, kind: str) -> str:
    return fmt.format_value(value, kind, _lang(context))


@pass_context
def _role(context, value) -> str:
    return code_name("role", value, _lang(context))


@pass_context
def _rule(context, value) -> str:
    return code_name("rule", value, _lang(context))


def _bar_width(ratio, cap: float = 1.0) -> str:
    """A ratio -> a CSS width (``62.5%``), clamped to [0, cap]."""
    if fmt.is_missing(ratio):
        return "0%"
    return f"{max(0.0, min(float(ratio), cap)) / cap * 100:.1f}%"


def _css_string(value) -> str:
    """A CSS string literal (for ``string-set`` in a style attribute); HTML escaping comes after."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\A ")
    return f'"{text}"'


def _page_parts(lang: str) -> tuple[str, str, str]:
    """The "page X of Y" label split around its two numbers, for the footer's string-set."""
    marker = "\x1f"
    parts = translate("page.page_of", lang, page=marker, pages=marker).split(marker)
    return parts[0], parts[1], parts[2]


def _build() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html", "svg"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        money=_money,
        amount=_amount,
        count=fmt.format_count,
        pct=fmt.format_percent,
        change=_change,
        date=_date,
        period=_period,
        period_short=_period_short,
        rate=fmt.format_rate,
        decimal=fmt.format_decimal,
        grouped=fmt.format_grouped_decimal,
        value=_value,
        bar_width=_bar_width,
        css_string=_css_string,
        role=_role,
        rule=_rule,
    )
    env.globals.update(t=_t, missing=fmt.is_missing, page_parts=_page_parts)
    return env


ENV = _build()


def render_template(name: str, **variables) -> str:
    return ENV.get_template(name).render(**variables)
