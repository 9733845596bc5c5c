"""Every label a report or an email shows, in each language Yeji speaks.

``t(key, lang)`` looks a label up; ``t(key, lang, name="张伟")`` fills ``{name}``.
A key missing from a language is a bug, not a fallback: ``tests/test_reports_formatting.py``
checks that both catalogues hold the same keys. Dates, numbers and money are
formatted per language in :mod:`reports.formatting`, not here.
"""

from __future__ import annotations

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"

_ZH: dict[str, str] = {
    # report titles and kinds
    "report.weekly_review": "业绩周报",
    "report.team_summary": "团队周报",
    "report.commission_statement": "佣金结算单",
    "report.finance_summary": "佣金财务汇总",
    # running header / footer
    "page.page_of": "第 {page} 页，共 {pages} 页",
    "page.generated": "生成于 {when}",
    "page.confidential": "内部资料 · 仅限收件人本人",
    # common
    "common.member": "成员",
    "common.team": "团队",
    "common.week": "周",
    "common.month": "月份",
    "common.currency": "币种",
    "common.total": "合计",
    "common.subtotal": "小计",
    "common.grand_total": "总计",
    "common.none": "无",
    "common.rank": "排名",
    "common.name": "姓名",
    "common.customer": "客户",
    "common.country": "国家/地区",
    "common.orders": "订单数",
    "common.net_revenue": "净销售额",
    "common.more_rows": "另有 {count} 条未列出",
    "common.key_account": "重点客户",
    "common.vs_previous": "较上周",
    "common.vs_previous_month": "较上月",
    "common.flat": "持平",
    "common.pp": "个百分点",
    "common.no_data": "本期无数据",
    "common.role": "岗位",
    "common.inactive": "已离职",
    # KPIs
    "kpi.net_revenue": "净销售额",
    "kpi.revenue": "销售额",
    "kpi.refunds": "退款",
    "kpi.target": "目标",
    "kpi.no_target": "未设定目标",
    "kpi.attainment": "目标达成率",
    "kpi.orders": "订单数",
    "kpi.average_order_value": "客单价",
    "kpi.gross_margin": "毛利率",
    "kpi.gross_profit": "毛利",
    "kpi.cost_unknown": "成本未知",
    "kpi.cost_known_share": "成本已知订单占比",
    "kpi.customers": "下单客户",
    "kpi.new_customers": "新客户",
    "kpi.returning_customers": "老客户",
    "kpi.new_vs_returning": "新客户 / 老客户",
    "kpi.refund_rate": "退款率",
    "kpi.collections_received": "本期回款",
    "kpi.collections_outstanding": "待回款",
    "kpi.inquiries": "询盘数",
    "kpi.reply_within_24h": "24小时回复率",
    "kpi.replied_24h": "24小时内回复",
    "kpi.conversion": "询盘转化率",
    "kpi.converted": "已成交",
    "kpi.rank_in_team": "团队排名",
    "kpi.rank_value": "第 {rank} 名 / 共 {size} 人",
    "kpi.members": "成员数",
    # weekly review
    "review.heading": "个人业绩周报",
    "review.kpis": "本周关键指标",
    "review.trend": "近 {weeks} 周净销售额趋势",
    "review.trend_note": "深色柱为本周；虚线为区间周均值 {average}。",
    "review.top_customers": "本周前 {count} 大客户",
    "review.quiet_customers": "沉寂客户（超过 {days} 天未下单）",
    "review.quiet_none": "没有沉寂客户。",
    "review.top_none": "本周没有客户下单。",
    "review.commission": "本月佣金（截至 {date}）",
    "review.commission_total": "本月累计佣金",
    "review.commission_lines": "共 {count} 条明细，完整明细见月度佣金结算单。",
    "review.commission_none": "本月暂无佣金明细。",
    "review.commission_recent": "最近明细",
    "customer.last_order": "最后下单",
    "customer.days_quiet": "沉寂天数",
    "customer.lifetime_revenue": "累计销售额",
    "customer.owner": "负责人",
    "customer.days": "{days} 天",
    # team summary
    "team.heading": "团队业绩周报",
    "team.lead": "负责人",
    "team.kpis": "团队关键指标",
    "team.trend": "近 {weeks} 周团队净销售额",
    "team.leaderboard": "成员排行榜",
    "team.change": "环比",
    "team.platform_mix": "平台构成",
    "team.country_mix": "国家/地区构成",
    "team.share": "占比",
    "team.platform": "平台",
    "team.at_risk": "风险客户（超过 {days} 天未下单）",
    "team.at_risk_none": "团队没有沉寂客户。",
    "team.mix_none": "本周无数据。",
    # commission statement
    "statement.heading": "月度佣金结算单",
    "statement.summary": "结算摘要",
    "statement.plan": "佣金方案",
    "statement.no_plan": "未配置佣金方案",
    "statement.base_total": "计佣基数合计",
    "statement.commission_total": "应发佣金合计",
    "statement.line_count": "明细条数",
    "statement.lines": "佣金明细",
    "statement.date": "日期",
    "statement.order": "订单号",
    "statement.rule": "规则",
    "statement.band": "档位",
    "statement.kind": "类型",
    "statement.kind_band": "类型 / 档位",
    "statement.base": "计佣基数",
    "statement.rate": "比例",
    "statement.cumulative": "本月累计基数",
    "statement.fx_rate": "汇率",
    "statement.amount": "佣金",
    "statement.no_lines": "本月没有佣金明细。",
    "statement.reconciled": "结算单合计与全部明细之和一致（{count} 条）。",
    "statement.note": "计佣基数为净销售额（已扣除退款），以团队本位币 {currency} 计；外币订单按下单当日汇率折算。",
    "plan.flat": "固定比例 {rate}",
    "plan.tiered": "阶梯累进（按月累计，超额部分适用更高比例）",
    "plan.tier_range": "{low} – {high}",
    "plan.tier_open": "{low} 以上",
    # finance summary
    "finance.heading": "月度佣金财务汇总",
    "finance.members_table": "成员佣金汇总",
    "finance.plan": "方案",
    "finance.lines": "明细数",
    "finance.base": "计佣基数",
    "finance.commission": "佣金",
    "finance.totals": "按币种合计",
    "finance.no_plan": "未配置佣金方案的成员",
    "finance.no_plan_none": "所有在职成员均已配置佣金方案。",
    "finance.reconciled": "各币种合计与佣金明细之和核对一致。",
    "finance.members_count": "{count} 名成员",
    # emails
    "email.greeting": "{name}，您好：",
    "email.greeting_anonymous": "您好：",
    "email.intro.weekly_review": "附件是您 {period} 的业绩周报，以下为本周要点。",
    "email.intro.team_summary": "附件是 {team} {period} 的团队周报，以下为团队要点。",
    "email.intro.commission_statement": "附件是您 {period} 的佣金结算单，以下为结算摘要。",
    "email.intro.finance_summary": "附件是 {period} 的佣金财务汇总，以下为各币种合计。",
    "email.closing": "如有疑问，请直接回复本邮件。",
    "email.signature": "{company} · Yeji 自动报表",
    "email.subject.weekly_review": "【业绩周报】{period} {name}",
    "email.subject.team_summary": "【团队周报】{period} {team}",
    "email.subject.commission_statement": "【佣金结算单】{period} {name}",
    "email.subject.finance_summary": "【佣金财务汇总】{period}",
    "email.attachment": "附件",
    "email.attachment_line": "附件：{name}",
    "email.top_customer": "本周最大客户",
    "email.quiet_count": "沉寂客户",
    "email.leader": "本周第一",
    # filenames (no slashes; used in attachment names)
    "file.weekly_review": "业绩周报",
    "file.team_summary": "团队周报",
    "file.commission_statement": "佣金结算单",
    "file.finance_summary": "佣金财务汇总",
    # delivery notes
    "delivery.no_email": "成员 {member} 没有邮箱地址",
    # codes from the data, shown by name when known (otherwise as given)
    "role.sales": "销售",
    "role.lead": "组长",
    "role.manager": "经理",
    "role.director": "总监",
    "role.assistant": "销售助理",
    "rule.order": "订单",
    "rule.refund": "退款冲回",
    "rule.return": "退货冲回",
    "rule.cancellation": "取消冲回",
    "rule.clawback": "追回",
    "rule.adjustment": "调整",
    "rule.flat": "固定比例",
    "rule.tier": "阶梯",
    "rule.tiered": "阶梯",
    "rule.tiered_marginal": "阶梯累进",
}

_EN: dict[str, str] = {
    "report.weekly_review": "Weekly performance review",
    "report.team_summary": "Team weekly summary",
    "report.commission_statement": "Commission statement",
    "report.finance_summary": "Commission finance summary",
    "page.page_of": "Page {page} of {pages}",
    "page.generated": "Generated {when}",
    "page.confidential": "Internal · for the addressee only",
    "common.member": "Member",
    "common.team": "Team",
    "common.week": "Week",
    "common.month": "Month",
    "common.currency": "Currency",
    "common.total": "Total",
    "common.subtotal": "Subtotal",
    "common.grand_total": "Grand total",
    "common.none": "None",
    "common.rank": "Rank",
    "common.name": "Name",
    "common.customer": "Customer",
    "common.country": "Country",
    "common.orders": "Orders",
    "common.net_revenue": "Net revenue",
    "common.more_rows": "{count} more not shown",
    "common.key_account": "Key account",
    "common.vs_previous": "vs last week",
    "common.vs_previous_month": "vs last month",
    "common.flat": "flat",
    "common.pp": "pp",
    "common.no_data": "No data this period",
    "common.role": "Role",
    "common.inactive": "inactive",
    "kpi.net_revenue": "Net revenue",
    "kpi.revenue": "Revenue",
    "kpi.refunds": "Refunds",
    "kpi.target": "Target",
    "kpi.no_target": "No target set",
    "kpi.attainment": "Attainment",
    "kpi.orders": "Orders",
    "kpi.average_order_value": "Average order value",
    "kpi.gross_margin": "Gross margin",
    "kpi.gross_profit": "Gross profit",
    "kpi.cost_unknown": "Cost unknown",
    "kpi.cost_known_share": "Orders with known cost",
    "kpi.customers": "Customers ordering",
    "kpi.new_customers": "New customers",
    "kpi.returning_customers": "Returning",
    "kpi.new_vs_returning": "New / returning customers",
    "kpi.refund_rate": "Refund rate",
    "kpi.collections_received": "Collections received",
    "kpi.collections_outstanding": "Outstanding",
    "kpi.inquiries": "Inquiries",
    "kpi.reply_within_24h": "Replied within 24 h",
    "kpi.replied_24h": "Replied within 24 h",
    "kpi.conversion": "Inquiry conversion",
    "kpi.converted": "Converted",
    "kpi.rank_in_team": "Rank in team",
    "kpi.rank_value": "#{rank} of {size}",
    "kpi.members": "Members",
    "review.heading": "Weekly performance review",
    "review.kpis": "This week's key figures",
    "review.trend": "Net revenue, last {weeks} weeks",
    "review.trend_note": "Dark bar: this week; dashed line: weekly average {average}.",
    "review.top_customers": "Top {count} customers this week",
    "review.quiet_customers": "Customers going quiet (no order for over {days} days)",
    "review.quiet_none": "No customers have gone quiet.",
    "review.top_none": "No customer ordered this week.",
    "review.commission": "Commission this month (to {date})",
    "review.commission_total": "Commission so far this month",
    "review.commission_lines": "{count} lines in all; the monthly commission statement lists every one.",
    "review.commission_none": "No commission lines yet this month.",
    "review.commission_recent": "Latest lines",
    "customer.last_order": "Last order",
    "customer.days_quiet": "Days quiet",
    "customer.lifetime_revenue": "Lifetime revenue",
    "customer.owner": "Owner",
    "customer.days": "{days} d",
    "team.heading": "Team weekly summary",
    "team.lead": "Lead",
    "team.kpis": "Team key figures",
    "team.trend": "Team net revenue, last {weeks} weeks",
    "team.leaderboard": "Leaderboard",
    "team.change": "Change",
    "team.platform_mix": "Platform mix",
    "team.country_mix": "Country mix",
    "team.share": "Share",
    "team.platform": "Platform",
    "team.at_risk": "Customers at risk (no order for over {days} days)",
    "team.at_risk_none": "No customers have gone quiet.",
    "team.mix_none": "No data this week.",
    "statement.heading": "Monthly commission statement",
    "statement.summary": "Summary",
    "statement.plan": "Commission plan",
    "statement.no_plan": "No commission plan",
    "statement.base_total": "Commission base",
    "statement.commission_total": "Commission payable",
    "statement.line_count": "Lines",
    "statement.lines": "Commission lines",
    "statement.date": "Date",
    "statement.order": "Order",
    "statement.rule": "Rule",
    "statement.band": "Band",
    "statement.kind": "Type",
    "statement.kind_band": "Type / band",
    "statement.base": "Base",
    "statement.rate": "Rate",
    "statement.cumulative": "Month to date",
    "statement.fx_rate": "FX rate",
    "statement.amount": "Commission",
    "statement.no_lines": "No commission lines this month.",
    "statement.reconciled": "Statement total equals the sum of all {count} lines.",
    "statement.note": "The base is net revenue after refunds, in the team's base currency {currency}; orders in other currencies are converted at the rate of the order date.",
    "plan.flat": "Flat rate {rate}",
    "plan.tiered": "Tiered, marginal on the month's running total",
    "plan.tier_range": "{low} – {high}",
    "plan.tier_open": "{low} and above",
    "finance.heading": "Monthly commission finance summary",
    "finance.members_table": "Commission by member",
    "finance.plan": "Plan",
    "finance.lines": "Lines",
    "finance.base": "Base",
    "finance.commission": "Commission",
    "finance.totals": "Totals by currency",
    "finance.no_plan": "Members with no commission plan",
    "finance.no_plan_none": "Every active member has a commission plan.",
    "finance.reconciled": "Each currency total equals the sum of its commission lines.",
    "finance.members_count": "{count} members",
    "email.greeting": "Dear {name},",
    "email.greeting_anonymous": "Hello,",
    "email.intro.weekly_review": "Attached is your weekly performance review for {period}. The highlights:",
    "email.intro.team_summary": "Attached is the weekly summary of {team} for {period}. The highlights:",
    "email.intro.commission_statement": "Attached is your commission statement for {period}. The summary:",
    "email.intro.finance_summary": "Attached is the commission finance summary for {period}. Totals by currency:",
    "email.closing": "If anything looks wrong, just reply to this email.",
    "email.signature": "{company} · Yeji reports",
    "email.subject.weekly_review": "Weekly performance review {period} – {name}",
    "email.subject.team_summary": "Team weekly summary {period} – {team}",
    "email.subject.commission_statement": "Commission statement {period} – {name}",
    "email.subject.finance_summary": "Commission finance summary {period}",
    "email.attachment": "Attachment",
    "email.attachment_line": "Attachment: {name}",
    "email.top_customer": "Top customer",
    "email.quiet_count": "Customers going quiet",
    "email.leader": "Top of the leaderboard",
    "file.weekly_review": "weekly-review",
    "file.team_summary": "team-summary",
    "file.commission_statement": "commission-statement",
    "file.finance_summary": "commission-finance-summary",
    "delivery.no_email": "member {member} has no email address",
    "role.sales": "Sales",
    "role.lead": "Team lead",
    "role.manager": "Manager",
    "role.director": "Director",
    "role.assistant": "Sales assistant",
    "rule.order": "Order",
    "rule.refund": "Refund",
    "rule.return": "Return",
    "rule.cancellation": "Cancellation",
    "rule.clawback": "Clawback",
    "rule.adjustment": "Adjustment",
    "rule.flat": "Flat",
    "rule.tier": "Tier",
    "rule.tiered": "Tiered",
    "rule.tiered_marginal": "Tiered",
}

CATALOGUE: dict[str, dict[str, str]] = {"zh-CN": _ZH, "en": _EN}

# Platforms and countries: shown by name where known, otherwise as given.
PLATFORMS: dict[str, tuple[str, str]] = {
    "amazon": ("亚马逊", "Amazon"),
    "shopify": ("Shopify", "Shopify"),
    "woocommerce": ("WooCommerce", "WooCommerce"),
    "b2b": ("B2B 外贸", "B2B"),
    "offline": ("线下", "Offline"),
    "alibaba": ("阿里巴巴国际站", "Alibaba.com"),
    "aliexpress": ("速卖通", "AliExpress"),
    "ebay": ("eBay", "eBay"),
    "tiktok": ("TikTok Shop", "TikTok Shop"),
    "temu": ("Temu", "Temu"),
    "shein": ("SHEIN", "SHEIN"),
    "shopee": ("Shopee 虾皮", "Shopee"),
    "lazada": ("Lazada", "Lazada"),
    "walmart": ("沃尔玛", "Walmart"),
    "etsy": ("Etsy", "Etsy"),
    "made_in_china": ("中国制造网", "Made-in-China.com"),
}

COUNTRIES: dict[str, tuple[str, str]] = {
    "US": ("美国", "United States"), "CA": ("加拿大", "Canada"), "MX": ("墨西哥", "Mexico"),
    "BR": ("巴西", "Brazil"), "CL": ("智利", "Chile"), "AR": ("阿根廷", "Argentina"), "CO": ("哥伦比亚", "Colombia"),
    "PE": ("秘鲁", "Peru"), "GB": ("英国", "United Kingdom"), "UK": ("英国", "United Kingdom"),
    "IE": ("爱尔兰", "Ireland"), "DE": ("德国", "Germany"), "FR": ("法国", "France"), "IT": ("意大利", "Italy"),
    "ES": ("西班牙", "Spain"), "PT": ("葡萄牙", "Portugal"), "NL": ("荷兰", "Netherlands"), "BE": ("比利时", "Belgium"),
    "CH": ("瑞士", "Switzerland"), "AT": ("奥地利", "Austria"), "SE": ("瑞典", "Sweden"), "NO": ("挪威", "Norway"),
    "DK": ("丹麦", "Denmark"), "FI": ("芬兰", "Finland"), "PL": ("波兰", "Poland"), "CZ": ("捷克", "Czechia"),
    "HU": ("匈牙利", "Hungary"), "RO": ("罗马尼亚", "Romania"), "GR": ("希腊", "Greece"), "TR": ("土耳其", "Türkiye"),
    "RU": ("俄罗斯", "Russia"), "UA": ("乌克兰", "Ukraine"), "IL": ("以色列", "Israel"), "AE": ("阿联酋", "United Arab Emirates"),
    "SA": ("沙特阿拉伯", "Saudi Arabia"), "QA": ("卡塔尔", "Qatar"), "KW": ("科威特", "Kuwait"), "EG": ("埃及", "Egypt"),
    "NG": ("尼日利亚", "Nigeria"), "KE": ("肯尼亚", "Kenya"), "ZA": ("南非", "South Africa"), "MA": ("摩洛哥", "Morocco"),
    "IN": ("印度", "India"), "PK": ("巴基斯坦", "Pakistan"), "BD": ("孟加拉国", "Bangladesh"), "JP": ("日本", "Japan"),
    "KR": ("韩国", "South Korea"), "CN": ("中国", "China"), "HK": ("中国香港", "Hong Kong"), "TW": ("中国台湾", "Taiwan"),
    "MO": ("中国澳门", "Macao"), "SG": ("新加坡", "Singapore"), "MY": ("马来西亚", "Malaysia"), "TH": ("泰国", "Thailand"),
    "VN": ("越南", "Vietnam"), "ID": ("印度尼西亚", "Indonesia"), "PH": ("菲律宾", "Philippines"), "AU": ("澳大利亚", "Australia"),
    "NZ": ("新西兰", "New Zealand"),
    "OM": ("阿曼", "Oman"), "BH": ("巴林", "Bahrain"), "JO": ("约旦", "Jordan"), "LB": ("黎巴嫩", "Lebanon"),
    "IQ": ("伊拉克", "Iraq"), "IR": ("伊朗", "Iran"), "YE": ("也门", "Yemen"), "SY": ("叙利亚", "Syria"),
    "LK": ("斯里兰卡", "Sri Lanka"), "NP": ("尼泊尔", "Nepal"), "MM": ("缅甸", "Myanmar"), "KH": ("柬埔寨", "Cambodia"),
    "LA": ("老挝", "Laos"), "MN": ("蒙古", "Mongolia"), "KZ": ("哈萨克斯坦", "Kazakhstan"), "UZ": ("乌兹别克斯坦", "Uzbekistan"),
    "AZ": ("阿塞拜疆", "Azerbaijan"), "GE": ("格鲁吉亚", "Georgia"), "AM": ("亚美尼亚", "Armenia"), "BY": ("白俄罗斯", "Belarus"),
    "GH": ("加纳", "Ghana"), "ET": ("埃塞俄比亚", "Ethiopia"), "TZ": ("坦桑尼亚", "Tanzania"), "UG": ("乌干达", "Uganda"),
    "DZ": ("阿尔及利亚", "Algeria"), "TN": ("突尼斯", "Tunisia"), "LY": ("利比亚", "Libya"), "SN": ("塞内加尔", "Senegal"),
    "CI": ("科特迪瓦", "Côte d'Ivoire"), "CM": ("喀麦隆", "Cameroon"), "AO": ("安哥拉", "Angola"), "MZ": ("莫桑比克", "Mozambique"),
    "ZM": ("赞比亚", "Zambia"), "ZW": ("津巴布韦", "Zimbabwe"), "EC": ("厄瓜多尔", "Ecuador"), "UY": ("乌拉圭", "Uruguay"),
    "PY": ("巴拉圭", "Paraguay"), "BO": ("玻利维亚", "Bolivia"), "VE": ("委内瑞拉", "Venezuela"), "PA": ("巴拿马", "Panama"),
    "CR": ("哥斯达黎加", "Costa Rica"), "DO": ("多米尼加", "Dominican Republic"), "GT": ("危地马拉", "Guatemala"),
    "SK": ("斯洛伐克", "Slovakia"), "SI": ("斯洛文尼亚", "Slovenia"), "HR": ("克罗地亚", "Croatia"), "RS": ("塞尔维亚", "Serbia"),
    "BG": ("保加利亚", "Bulgaria"), "LT": ("立陶宛", "Lithuania"), "LV": ("拉脱维亚", "Latvia"), "EE": ("爱沙尼亚", "Estonia"),
    "LU": ("卢森堡", "Luxembourg"), "IS": ("冰岛", "Iceland"), "MT": ("马耳他", "Malta"), "CY": ("塞浦路斯", "Cyprus"),
}
# Full English names as they appear in some exports ("United Kingdom", "EIRE").
_COUNTRY_ALIASES = {name.lower(): code for code, (_, name) in COUNTRIES.items()}
_COUNTRY_ALIASES.update({
    "eire": "IE", "usa": "US", "united states of america": "US", "czech republic": "CZ", "turkey": "TR",
    "uae": "AE", "korea": "KR", "republic of korea": "KR", "russian federation": "RU", "viet nam": "VN",
    "ivory coast": "CI", "rsa": "ZA", "great britain": "GB", "england": "GB", "holland": "NL",
})


def normalize_language(value: object, default: str = DEFAULT_LANGUAGE) -> str:
    """A member's ``language`` value -> one of :data:`LANGUAGES` (``zh``, ``zh_CN``, ``EN-us`` ...)."""
    if not isinstance(value, str) or not value.strip():
        return default
    text = value.strip().lower().replace("_", "-")
    if text.startswith("zh") or text in ("cn", "chinese", "中文"):
        return "zh-CN"
    if text.startswith("en") or text == "english":
        return "en"
    return default


def t(key: str, lang: str, /, **values: object) -> str:
    """The label ``key`` in ``lang``, with ``{placeholders}`` filled from ``values``."""
    try:
        text = CATALOGUE[lang][key]
    except KeyError:
        if lang not in CATALOGUE:
            raise KeyError(f"unknown language {lang!r}; expected one of {LANGUAGES}") from None
        raise KeyError(f"no label {key!r} in the {lang} catalogue") from None
    return text.format(**values) if values else text


def has(key: str, lang: str) -> bool:
    return key in CATALOGUE.get(lang, {})


def code_name(prefix: str, value: object, lang: str) -> str:
    """A code from the data (role ``sales``, rule ``refund``) by its label when the catalogue
    has one, otherwise as given."""
    text = "" if value is None else str(value).strip()
    key = f"{prefix}.{text.lower()}"
    return CATALOGUE[lang][key] if key in CATALOGUE.get(lang, {}) else text


def platform_name(value: object, lang: str) -> str:
    text = "" if value is None else str(value)
    names = PLATFORMS.get(text.strip().lower())
    if names is None:
        return text or "—"
    return names[0] if lang == "zh-CN" else names[1]


def country_name(value: object, lang: str) -> str:
    """``US`` -> 美国 / United States; unknown values are shown as given."""
    text = "" if value is None else str(value).strip()
    if not text:
        return "—"
    code = text.upper() if len(text) == 2 else _COUNTRY_ALIASES.get(text.lower())
    names = COUNTRIES.get(code or "")
    if names is None:
        return text
    return names[0] if lang == "zh-CN" else names[1]
