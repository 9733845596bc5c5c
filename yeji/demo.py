"""The demo workspace: a made-up exporter's sales data, seeded, deterministic and realistic.

Real customer data never ships with Yeji, so ``yeji demo`` (and ``make demo``) runs
the whole pipeline on data generated here. :func:`create_demo_workspace` writes

* ``yeji.yaml``, copied as it is from ``config/defaults/yeji.yaml`` (commented, so an
  admin can learn the configuration from it), and
* the spreadsheets that file declares under ``data/``: Chinese-header xlsx exports
  (ERP orders with text dates and "12,345.60" amounts, bank receipts under a title
  line, inquiries with real Excel date-times), English csv exports (Shopify,
  WooCommerce with day-first UK dates, Amazon returns, FX rates) and multi-sheet
  workbooks (organisation, Amazon US/DE, weekly/monthly targets).

The company is 星河能源 (Galaxy Power), a Shenzhen maker of portable power stations
and solar kits with two teams:

* 欧美电商组 (e-commerce) sells on Shopify (USD), Amazon US (USD), Amazon DE (EUR)
  and WooCommerce UK (GBP). Store orders name no salesperson: they are credited by
  territory (the order's country). 李娜 holds the United States and is the star;
  张伟 holds the German-speaking markets, where Amazon DE is sliding; Emily Carter,
  hired in the UK, grows the WooCommerce shop week after week.
* 中东及B2B外贸组 (B2B) sells containers of solar modules, inverters and batteries
  on T/T 30/70: a 30% deposit, then the 70% balance weeks later; some balances are
  still open at the end, a few arrive short by bank charges, one buyer pays late.
  孙丽 opens new Latin-American accounts and trends up; two key accounts go quiet;
  郑凯 left eight weeks before the end (inactive, his accounts passed to 吴昊).

Nothing here reads the clock except :func:`default_end`; the same ``seed`` and
``end`` give byte-identical files. Money is ``Decimal`` at the currency's minor
digits from the start (never a float), and every timestamp is generated as a naive
local time in the workspace timezone, then converted to each file's own clock when
written. Files are written through the source definitions parsed from the very same
``yeji.yaml`` (headers, sheets, date formats, timezones, defaults), so the data and
the configuration cannot drift apart.
"""

from __future__ import annotations

import argparse
import csv
import json
import io
import math
import re
import unicodedata
import zipfile
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

import numpy as np
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from config.loader import CONFIG_FILE, DEFAULTS, load_settings
from config.models import Settings, SpreadsheetSource
from transforms.money import exponent
from transforms.periods import Period, last_complete_week, month, week

DEMO_CONFIG = DEFAULTS / "yeji.yaml"
DEMO_PLANS = DEFAULTS / "plans"  # the commission plan files the demo yeji.yaml's `plans_dir: plans` reads
DEMO_MARKER = ".yeji-demo.json"  # seed, end and weeks of a demo workspace

# Every generated timestamp is a naive local time in this zone (the demo yeji.yaml's).
WORKSPACE_TIMEZONE = "Asia/Shanghai"
_LOCAL = ZoneInfo(WORKSPACE_TIMEZONE)

# Money fields: Decimal at the row currency's minor digits.
_MONEY_FIELDS = ("gross", "discount", "tax", "shipping", "amount", "unit_price", "unit_cost")


# =============================================================================
# The result
# =============================================================================


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`create_demo_workspace` wrote."""

    root: Path
    seed: int
    first_day: date  # first local day with data (a Monday when ``end`` is a Sunday)
    last_day: date  # last local day with data, inclusive
    first_week: str  # ISO week label of first_day, e.g. "2026-W21"
    last_week: str
    counts: dict[str, int]  # records per kind (orders, order_lines, refunds, ...)
    rows: dict[str, int]  # data rows written per source name
    files: tuple[Path, ...]  # relative to root

    def describe(self) -> str:
        """One line for the console."""
        c = self.counts
        return (f"{self.first_week} to {self.last_week}: {c['orders']} orders, {c['refunds']} refunds, "
                f"{c['collections']} collections, {c['inquiries']} inquiries, {c['members']} members")

    def __str__(self) -> str:
        lines = [
            f"Demo workspace {self.root} (seed {self.seed}): {self.first_day} to {self.last_day}"
            f" ({self.first_week} to {self.last_week})",
        ]
        lines += [f"  {kind:<16} {n:>6}" for kind, n in self.counts.items()]
        return "\n".join(lines)


# =============================================================================
# The company: teams, members, catalogues, stores
# =============================================================================

ECOM, B2B = "ecom", "b2b"
TEAMS = (
    (ECOM, "欧美电商组", "CNY", "wanglei"),
    (B2B, "中东及B2B外贸组", "CNY", "zhaoqiang"),
)


@dataclass(frozen=True)
class Person:
    member_id: str
    name: str
    team_id: str
    role: str
    manager_id: str | None
    language: str
    tenure_days: int  # hired this many days before the first day of data
    work_timezone: str = WORKSPACE_TIMEZONE
    work_hours: tuple[int, int] = (8, 22)  # local hours in which they answer (外贸 works late)
    work_days: int = 6  # Mon..Sat
    reply_minutes: float = 60.0  # median delay to the first reply, in working time
    reply_spread: float = 1.0  # lognormal sigma of that delay
    unanswered: float = 0.02  # share of inquiries never answered
    inquiries_per_week: tuple[float, float] = (0.0, 0.0)  # at the start, at the end
    scores: tuple[float, float, float, float] = (4.0, 4.0, 4.0, 4.0)  # attitude, skill, teamwork, responsiveness
    score_trend: float = 0.0  # per month
    target_factor: float = 1.0  # target / expected pace (<1: beats it)

    @property
    def email(self) -> str:
        return f"{self.member_id}@demo.yeji.local"


MEMBERS = (
    Person("wanglei", "王磊", ECOM, "lead", None, "zh-CN", 2450,
           reply_minutes=80, inquiries_per_week=(2, 2), scores=(4.5, 4.4, 4.6, 4.1), target_factor=1.02),
    Person("lina", "李娜", ECOM, "sales", "wanglei", "zh-CN", 2010,
           reply_minutes=22, reply_spread=0.8, unanswered=0.005, inquiries_per_week=(6, 7),
           scores=(4.7, 4.8, 4.3, 4.8), target_factor=0.88),
    Person("zhangwei", "张伟", ECOM, "sales", "wanglei", "zh-CN", 1700,
           reply_minutes=420, reply_spread=1.4, unanswered=0.07, inquiries_per_week=(3, 3),
           scores=(3.6, 3.8, 3.7, 3.2), score_trend=-0.08, target_factor=1.0),
    Person("emily.carter", "Emily Carter", ECOM, "sales", "wanglei", "en", 260,
           work_timezone="Europe/London", work_hours=(9, 18), work_days=5,
           reply_minutes=45, inquiries_per_week=(1.5, 5), scores=(4.4, 3.9, 4.2, 4.3), score_trend=0.1),
    Person("liuyang", "刘洋", ECOM, "assistant", "wanglei", "zh-CN", 1420,
           reply_minutes=150, inquiries_per_week=(2, 2), scores=(4.0, 4.2, 4.0, 3.8), target_factor=1.05),
    Person("chenjing", "陈静", ECOM, "customer_service", "wanglei", "zh-CN", 1010,
           reply_minutes=15, reply_spread=0.7, unanswered=0.0, inquiries_per_week=(4, 4),
           scores=(4.6, 4.0, 4.7, 4.9)),
    Person("zhaoqiang", "赵强", B2B, "lead", None, "zh-CN", 3560,
           reply_minutes=90, inquiries_per_week=(5, 5), scores=(4.3, 4.8, 4.2, 4.1), target_factor=0.97),
    Person("sunli", "孙丽", B2B, "sales", "zhaoqiang", "zh-CN", 1280,
           reply_minutes=50, inquiries_per_week=(3.5, 9), scores=(4.5, 4.0, 4.4, 4.5), score_trend=0.08),
    Person("omar.haddad", "Omar Haddad", B2B, "sales", "zhaoqiang", "en", 860,
           work_timezone="Asia/Dubai", work_hours=(9, 19), work_days=5,
           reply_minutes=35, inquiries_per_week=(7, 7), scores=(4.4, 4.5, 4.0, 4.6), target_factor=1.02),
    Person("wuhao", "吴昊", B2B, "sales", "zhaoqiang", "zh-CN", 910,
           reply_minutes=180, reply_spread=1.2, inquiries_per_week=(5, 6), scores=(3.9, 3.7, 4.1, 3.6),
           target_factor=1.12),
    Person("zhoumin", "周敏", B2B, "follow_up", "zhaoqiang", "zh-CN", 1900,
           reply_minutes=60, inquiries_per_week=(1, 1), scores=(4.6, 4.3, 4.8, 4.4)),
    Person("zhengkai", "郑凯", B2B, "sales", "zhaoqiang", "zh-CN", 2230,
           reply_minutes=240, reply_spread=1.2, unanswered=0.05, inquiries_per_week=(5, 5),
           scores=(3.8, 4.2, 3.6, 3.6), score_trend=-0.15),
)
PEOPLE = {p.member_id: p for p in MEMBERS}
LEAVER = "zhengkai"  # left 8 weeks before the end; his accounts went to SUCCESSOR
SUCCESSOR = "wuhao"


@dataclass(frozen=True)
class StoreProduct:
    sku: str
    name: str
    prices: tuple[str, str, str]  # USD, EUR, GBP shelf prices
    cost_cny: int | None  # landed cost (goods, freight, duty, fulfilment); None = not in the cost sheet
    weight: float  # share of baskets it leads
    accessory: bool = False

    def price(self, currency: str) -> Decimal:
        return Decimal(self.prices[("USD", "EUR", "GBP").index(currency)])


STORE_CATALOGUE = (
    StoreProduct("GP-PS300", "Galaxy Power Station 300W", ("229.00", "249.00", "219.00"), 905, 0.20),
    StoreProduct("GP-PS600", "Galaxy Power Station 600W", ("449.00", "479.00", "429.00"), 1760, 0.22),
    StoreProduct("GP-PS1200", "Galaxy Power Station 1200W", ("899.00", "949.00", "849.00"), 3480, 0.15),
    StoreProduct("GP-PS2000", "Galaxy Power Station 2000W Pro", ("1499.00", "1599.00", "1399.00"), 5650, 0.06),
    StoreProduct("GP-PS3600", "Galaxy Power Station 3600W Max (new)", ("2299.00", "2449.00", "2149.00"), None, 0.05),
    StoreProduct("GP-SP100", "Foldable Solar Panel 100W", ("179.00", "189.00", "169.00"), 610, 0.10),
    StoreProduct("GP-SP200", "Foldable Solar Panel 200W", ("329.00", "349.00", "309.00"), 1120, 0.07),
    StoreProduct("GP-EXB1", "Expansion Battery 1kWh", ("599.00", "649.00", "569.00"), 2350, 0.04),
    StoreProduct("GP-CB12", "12V Car Charging Cable", ("19.99", "19.99", "17.99"), 48, 0.03, accessory=True),
    StoreProduct("GP-BAG", "Carry Bag for PS600/PS1200", ("39.99", "42.99", "36.99"), 95, 0.03, accessory=True),
    StoreProduct("GP-LT20", "Camping Lantern (dropship)", ("29.99", "32.99", "27.99"), None, 0.03, accessory=True),
    StoreProduct("GP-ADP", "MC4 Solar Adapter Kit", ("24.99", "26.99", "22.99"), 52, 0.02, accessory=True),
)
NEW_FLAGSHIP = "GP-PS3600"  # launched 8 weeks before the end; not yet in the cost sheet
STATIONS = ("GP-PS300", "GP-PS600", "GP-PS1200", "GP-PS2000", "GP-PS3600")


@dataclass(frozen=True)
class TradeProduct:
    sku: str
    name: str  # 品名 as the ERP has it
    usd: str  # FOB list price per unit
    cost_cny: int | None
    step: int  # ordered in multiples of (pallet, carton)
    unit: str


TRADE_CATALOGUE = (
    TradeProduct("GP-M550", "单晶组件 550W Mono PERC module", "61.60", 395, 36, "pcs"),
    TradeProduct("GP-M450", "单晶组件 450W Mono module", "52.00", 335, 36, "pcs"),
    TradeProduct("GP-HI5K", "5kW 混合逆变器 Hybrid inverter", "540.00", 2950, 5, "set"),
    TradeProduct("GP-HI10K", "10kW 三相混合逆变器 3-phase hybrid inverter", "1050.00", 5700, 5, "set"),
    TradeProduct("GP-LFP5", "5.12kWh 壁挂磷酸铁锂电池 LiFePO4 wall battery", "820.00", 4450, 4, "set"),
    TradeProduct("GP-LFP15", "15kWh 机架储能电池 Rack battery", "2280.00", 12800, 2, "set"),
    TradeProduct("GP-SL100", "100W 一体化太阳能路灯 All-in-one street light", "72.00", 360, 20, "set"),
    TradeProduct("GP-PS1200", "1200W 便携储能电源 Portable power station", "520.00", 2950, 10, "pcs"),
    TradeProduct("GP-OEM", "OEM 定制电池包（按项目报价）Custom battery pack", "0", None, 10, "pcs"),
)
_TRADE = {p.sku: p for p in TRADE_CATALOGUE}
TRADE_MIX = {  # region -> (sku, weight)
    "gulf": (("GP-M550", .30), ("GP-HI5K", .15), ("GP-HI10K", .10), ("GP-LFP5", .15), ("GP-LFP15", .12),
             ("GP-SL100", .08), ("GP-PS1200", .05), ("GP-OEM", .05)),
    "latam": (("GP-M550", .35), ("GP-M450", .15), ("GP-HI5K", .15), ("GP-HI10K", .10), ("GP-LFP5", .15),
              ("GP-LFP15", .05), ("GP-OEM", .05)),
    "africa": (("GP-PS1200", .20), ("GP-SL100", .20), ("GP-M450", .20), ("GP-HI5K", .15), ("GP-LFP5", .15),
               ("GP-OEM", .10)),
    "other": (("GP-M550", .30), ("GP-HI10K", .20), ("GP-LFP15", .20), ("GP-LFP5", .20), ("GP-OEM", .10)),
}

# Rates used to set fixed costs and prices in foreign currencies (the "price list rate").
PRICE_LIST_RATES = {"USD": Decimal("7.10"), "EUR": Decimal("7.70"), "GBP": Decimal("9.00"),
                    "JPY": Decimal("0.0475"), "AED": Decimal("1.9333"), "SAR": Decimal("1.8933")}
USD_CROSS = {"USD": Decimal(1), "EUR": Decimal("0.92"), "JPY": Decimal("150"), "AED": Decimal("3.6725"),
             "SAR": Decimal("3.75")}


@dataclass(frozen=True)
class Store:
    key: str
    source: str  # the source name in yeji.yaml
    store: str  # the store's name as reports show it
    platform: str
    currency: str
    timezone: str  # the store's clock
    per_day: float  # orders per day before seasonality and trend
    trend: tuple[float, float]  # volume multiplier at the first and last day
    countries: tuple[tuple[str, float], ...]
    repeat_rate: float


STORES = (
    Store("shopify", "shopify_orders", "Shopify", "shopify", "USD", "America/New_York", 3.6, (0.95, 1.1), (
        ("United States", .68), ("Canada", .08), ("Australia", .05), ("United Kingdom", .03), ("France", .025),
        ("Germany", .02), ("Netherlands", .015), ("Singapore", .015), ("New Zealand", .01), ("Sweden", .01),
        ("Spain", .01), ("Italy", .01), ("Israel", .01), ("Norway", .005), ("Ireland", .005), ("Denmark", .005),
        ("Belgium", .005), ("Switzerland", .005)), 0.12),
    Store("amazon_us", "amazon", "Amazon US", "amazon", "USD", "America/Los_Angeles", 4.0, (1.0, 1.0), (
        ("United States", .97), ("Canada", .03)), 0.07),
    Store("amazon_de", "amazon", "Amazon DE", "amazon", "EUR", "Europe/Berlin", 3.6, (1.25, 0.6), (
        ("Germany", .60), ("Austria", .10), ("France", .08), ("Italy", .06), ("Spain", .05), ("Netherlands", .04),
        ("Poland", .03), ("Sweden", .02), ("Belgium", .02)), 0.07),
    Store("woocommerce", "woocommerce_uk", "WooCommerce UK", "woocommerce", "GBP", "Europe/London", 2.8, (0.45, 1.55), (
        ("United Kingdom", .92), ("Ireland", .08)), 0.15),
)

# B2B accounts: (owner, country, how many, of which key accounts)
B2B_BOOK = (
    ("zhaoqiang", "Saudi Arabia", 5, 2), ("zhaoqiang", "Kuwait", 2, 1), ("zhaoqiang", "Qatar", 2, 1),
    ("zhaoqiang", "Bahrain", 1, 0), ("zhaoqiang", "Japan", 1, 1),
    ("omar.haddad", "United Arab Emirates", 6, 2), ("omar.haddad", "Oman", 2, 0), ("omar.haddad", "Egypt", 3, 1),
    ("omar.haddad", "Jordan", 2, 0),
    ("sunli", "Brazil", 4, 1), ("sunli", "Chile", 2, 0), ("sunli", "Mexico", 3, 0), ("sunli", "Colombia", 2, 0),
    ("sunli", "Peru", 1, 0),
    ("wuhao", "Nigeria", 3, 0), ("wuhao", "Kenya", 2, 0), ("wuhao", "South Africa", 3, 1),
    ("zhengkai", "Turkey", 3, 1), ("zhengkai", "Pakistan", 2, 0), ("zhengkai", "Poland", 1, 0),
    ("zhoumin", "Saudi Arabia", 1, 0), ("zhoumin", "United Arab Emirates", 1, 0), ("zhoumin", "Egypt", 1, 0),
    ("zhoumin", "Kenya", 1, 0),
)
NEW_ACCOUNT_SHARE = {"zhaoqiang": .15, "omar.haddad": .25, "sunli": .65, "wuhao": .35, "zhengkai": 0, "zhoumin": 0}
ORDER_SIZE = {"zhaoqiang": 1.3, "omar.haddad": 1.0, "sunli": 0.85, "wuhao": 0.75, "zhengkai": 0.9, "zhoumin": 0.5}

_REGION = {
    **dict.fromkeys(("Saudi Arabia", "Kuwait", "Qatar", "Bahrain", "United Arab Emirates", "Oman", "Egypt",
                     "Jordan"), "gulf"),
    **dict.fromkeys(("Brazil", "Chile", "Mexico", "Colombia", "Peru"), "latam"),
    **dict.fromkeys(("Nigeria", "Kenya", "South Africa", "Pakistan"), "africa"),
    **dict.fromkeys(("Turkey", "Poland", "Japan"), "other"),
}
_PORT = {
    "Saudi Arabia": "Dammam", "Kuwait": "Shuwaikh", "Qatar": "Hamad", "Bahrain": "Khalifa Bin Salman",
    "Japan": "Yokohama", "United Arab Emirates": "Jebel Ali", "Oman": "Sohar", "Egypt": "Alexandria",
    "Jordan": "Aqaba", "Brazil": "Santos", "Chile": "San Antonio", "Mexico": "Manzanillo", "Colombia": "Cartagena",
    "Peru": "Callao", "Nigeria": "Lagos (Apapa)", "Kenya": "Mombasa", "South Africa": "Durban", "Turkey": "Mersin",
    "Pakistan": "Karachi", "Poland": "Gdańsk",
}
_COMPANY_WORDS = {
    "Saudi Arabia": (("Riyadh", "Jeddah", "Dammam", "Al Waha", "Al Manar", "Najd"), ("Est.", "Co. Ltd", "Trading Est.")),
    "Kuwait": (("Kuwait", "Al Ahmadi", "Gulf Star"), ("Co. W.L.L.", "General Trading Co.")),
    "Qatar": (("Doha", "Al Wakra", "Pearl"), ("W.L.L.", "Trading W.L.L.")),
    "Bahrain": (("Manama", "Muharraq"), ("W.L.L.", "Co. B.S.C.")),
    "Japan": (("Yokohama", "Kansai", "Sakura"), ("K.K.", "Co., Ltd.")),
    "United Arab Emirates": (("Al Noor", "Dubai", "Sharjah", "Emirates", "Al Safa", "Desert Sun"),
                             ("LLC", "Trading LLC", "FZE", "FZCO")),
    "Oman": (("Muscat", "Sohar", "Dhofar"), ("LLC", "SAOC")),
    "Egypt": (("Cairo", "Nile", "Delta", "Alexandria"), ("S.A.E.", "Co.")),
    "Jordan": (("Amman", "Petra", "Zarqa"), ("Co.", "Trading Co.")),
    "Brazil": (("Energia", "Paulista", "Minas", "Nordeste", "Rio"), ("Ltda", "Comércio Ltda")),
    "Chile": (("Santiago", "Andes", "Atacama"), ("SpA", "Ltda")),
    "Mexico": (("Sol Azteca", "Monterrey", "Jalisco", "Baja"), ("S.A. de C.V.",)),
    "Colombia": (("Bogotá", "Antioquia", "Caribe"), ("S.A.S.",)),
    "Peru": (("Lima", "Inca"), ("S.A.C.",)),
    "Nigeria": (("Lagos", "Abuja", "Kano", "Niger Delta"), ("Ltd", "Nigeria Ltd")),
    "Kenya": (("Nairobi", "Mombasa", "Rift Valley"), ("Ltd",)),
    "South Africa": (("Cape", "Gauteng", "Durban", "Karoo"), ("(Pty) Ltd",)),
    "Turkey": (("Anadolu", "Ege", "İzmir", "Marmara"), ("A.Ş.", "Ltd. Şti.")),
    "Pakistan": (("Karachi", "Lahore", "Punjab"), ("(Pvt) Ltd",)),
    "Poland": (("Polska", "Mazowsze", "Bałtyk"), ("Sp. z o.o.",)),
}
_COMPANY_CORE = ("Solar", "Green Energy", "Power Systems", "Renewables", "Solar Solutions", "Energy Trading",
                 "Electric", "Sun Power", "Clean Energy")

_NAMES = {
    "en": (("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
            "William", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Chris", "Karen", "Daniel", "Emma", "Matthew",
            "Olivia", "Anthony", "Sophie", "Mark", "Chloe", "Ryan", "Grace", "Kevin", "Megan"),
           ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
            "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall",
            "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell",
            "Roberts", "Carter", "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards")),
    "de": (("Lukas", "Anna", "Felix", "Lena", "Jonas", "Laura", "Maximilian", "Julia", "Paul", "Sophie", "Leon",
            "Marie", "Tobias", "Katharina", "Stefan", "Sabine", "Thomas", "Petra", "Michael", "Claudia"),
           ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
            "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Huber")),
    "fr": (("Lucas", "Emma", "Hugo", "Léa", "Louis", "Chloé", "Gabriel", "Manon", "Arthur", "Camille", "Jules",
            "Inès"),
           ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
            "Simon", "Laurent", "Lefebvre", "Michel", "Peeters", "Janssens")),
    "it": (("Marco", "Giulia", "Alessandro", "Francesca", "Luca", "Chiara", "Matteo", "Sara", "Andrea", "Elena"),
           ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco")),
    "es": (("Carlos", "María", "Javier", "Lucía", "Pablo", "Carmen", "Diego", "Laura", "Alejandro", "Ana"),
           ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez")),
    "nl": (("Daan", "Sanne", "Bram", "Lotte", "Thijs", "Eva", "Ruben", "Anouk"),
           ("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer")),
    "nordic": (("Erik", "Anna", "Lars", "Maja", "Johan", "Ingrid", "Nils", "Sofia", "Mikkel", "Freja", "Mika"),
               ("Andersson", "Johansson", "Larsen", "Hansen", "Nielsen", "Karlsson", "Olsen", "Jensen", "Virtanen")),
    "pl": (("Jakub", "Zuzanna", "Piotr", "Anna", "Tomasz", "Katarzyna", "Michał", "Magdalena"),
           ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński")),
}
_NAME_GROUP = {
    "Germany": "de", "Austria": "de", "Switzerland": "de", "France": "fr", "Belgium": "fr", "Italy": "it",
    "Spain": "es", "Netherlands": "nl", "Sweden": "nordic", "Norway": "nordic", "Denmark": "nordic",
    "Finland": "nordic", "Poland": "pl",
}
_CONTACTS = {
    "gulf": ("Ahmed Al-Harbi", "Mohammed Saleh", "Khalid Al-Mansouri", "Fatima Haddad", "Hassan Nasser", "Yousef Karim",
             "Mariam Aziz", "Tariq Farouk"),
    "latam": ("Carlos Souza", "Ana Oliveira", "Juan Pérez", "Lucía Herrera", "Diego Castillo", "Camila Rojas"),
    "africa": ("Chinedu Okafor", "Grace Wanjiru", "Sipho Dlamini", "Bilal Ahmed", "Ngozi Adeyemi", "Peter Otieno"),
    "other": ("Mehmet Yılmaz", "Ayşe Demir", "Hiroshi Tanaka", "Tomasz Nowak", "Yuki Sato", "Emre Kaya"),
}


# =============================================================================
# The window of days and its calendar
# =============================================================================


@dataclass(frozen=True)
class Window:
    first_day: date
    last_day: date  # inclusive

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range((self.last_day - self.first_day).days + 1)]

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time())

    @property
    def end(self) -> datetime:  # exclusive
        return datetime.combine(self.last_day + timedelta(days=1), time())

    def contains(self, moment: datetime | date) -> bool:
        day = moment.date() if isinstance(moment, datetime) else moment
        return self.first_day <= day <= self.last_day

    def progress(self, moment: datetime | date) -> float:
        """0 on the first day, 1 on the last."""
        day = moment.date() if isinstance(moment, datetime) else moment
        span = max((self.last_day - self.first_day).days, 1)
        return min(max((day - self.first_day).days / span, 0.0), 1.0)

    def weeks(self) -> list[Period]:
        out, p = [], week(self.first_day)
        while p.start <= self.last_day:
            out.append(p)
            p = p.next()
        return out

    def months(self) -> list[Period]:
        out, p = [], month(self.first_day)
        while p.start <= self.last_day:
            out.append(p)
            p = p.next()
        return out


def default_end(now: datetime | None = None) -> date:
    """The last day (a Sunday) of the last complete ISO week before ``now`` in the demo timezone."""
    now = now or datetime.now(_LOCAL)
    return last_complete_week(now).end - timedelta(days=1)


_CHINESE_NEW_YEAR = (date(2024, 2, 10), date(2025, 1, 29), date(2026, 2, 17), date(2027, 2, 6), date(2028, 1, 26),
                     date(2029, 2, 13), date(2030, 2, 3), date(2031, 1, 23), date(2032, 2, 11))
_RAMADAN = (date(2024, 3, 11), date(2025, 3, 1), date(2026, 2, 18), date(2027, 2, 8), date(2028, 1, 28),
            date(2029, 1, 16), date(2030, 1, 6), date(2030, 12, 26), date(2031, 12, 15))


def _nth_weekday(year: int, month_: int, weekday: int, n: int) -> date:
    first = date(year, month_, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _trade_holiday(day: date, region: str) -> date | None:
    """The day a B2B order falling on ``day`` slips to, or None if no holiday is in the way."""
    for cny in _CHINESE_NEW_YEAR:  # the factory is closed; quotes wait
        if cny - timedelta(days=7) <= day <= cny + timedelta(days=10):
            return cny + timedelta(days=11)
    if region == "gulf":
        for start in _RAMADAN:
            if start <= day <= start + timedelta(days=32):
                return start + timedelta(days=33)
    return None


_MONTH_SEASON = (0.75, 0.8, 0.9, 1.0, 1.1, 1.2, 1.2, 1.1, 1.0, 0.95, 1.2, 1.35)
_WEEKDAY_B2C = (1.0, 0.95, 0.95, 1.0, 1.0, 1.1, 1.15)
_HOURS_B2C = np.array([2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 7, 6, 6, 6, 7, 8, 9, 10, 9, 7, 4], dtype=float)
_HOURS_B2C /= _HOURS_B2C.sum()


def _store_events(store: Store, day: date) -> tuple[float, Decimal | None]:
    """(volume multiplier, promotion discount rate or None) on a store-local day."""
    y = day.year
    prime = _nth_weekday(y, 7, 1, 2)  # second Tuesday of July
    deal_days = _nth_weekday(y, 10, 1, 2)
    black_friday = _nth_weekday(y, 11, 3, 4) + timedelta(days=1)
    if store.platform == "amazon":
        if prime <= day <= prime + timedelta(days=1):
            return 3.0, Decimal("0.20")
        if prime - timedelta(days=6) <= day < prime:
            return 0.85, None
        if deal_days <= day <= deal_days + timedelta(days=1):
            return 2.0, Decimal("0.15")
    if black_friday <= day <= black_friday + timedelta(days=3):
        return 2.8, Decimal("0.20")
    if black_friday - timedelta(days=10) <= day < black_friday:
        return 1.3, Decimal("0.10")
    if store.key == "shopify" and day.month == 7 and day.day <= 4:
        return 1.5, Decimal("0.15")
    if store.key == "shopify" and _nth_weekday(y, 9, 0, 1) - timedelta(days=3) <= day <= _nth_weekday(y, 9, 0, 1):
        return 1.4, Decimal("0.15")
    if store.key == "woocommerce" and day.month == 12 and day.day == 26:
        return 1.8, Decimal("0.15")
    if day.month == 12 and 24 <= day.day <= 25:
        return 0.5, None
    return 1.0, None


# =============================================================================
# Small exact helpers
# =============================================================================


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


def _money(amount: Decimal | float | int, currency: str) -> Decimal:
    """Round to the currency's minor digits, half away from zero."""
    value = amount if isinstance(amount, Decimal) else Decimal(repr(amount))
    return value.quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def _to_step(amount: Decimal, step: Decimal) -> Decimal:
    return (amount / step).to_integral_value(rounding=ROUND_HALF_UP) * step


def _dec(value: float, places: int) -> Decimal:
    return Decimal(f"{value:.{places}f}")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().replace(" ", "").lower()


class _Rng:
    """A numpy Generator with the few draws the demo needs, one independent stream per topic."""

    def __init__(self, seed: int, topic: str):
        self.g = np.random.default_rng([seed, *topic.encode()])

    def random(self) -> float:
        return float(self.g.random())

    def uniform(self, low: float, high: float) -> float:
        return float(self.g.uniform(low, high))

    def integers(self, low: int, high: int) -> int:  # [low, high)
        return int(self.g.integers(low, high))

    def poisson(self, lam: float) -> int:
        return int(self.g.poisson(max(lam, 0.0)))

    def normal(self, mean: float = 0.0, sd: float = 1.0) -> float:
        return float(self.g.normal(mean, sd))

    def lognormal(self, median: float, sigma: float) -> float:
        return float(median * math.exp(self.g.normal(0.0, sigma)))

    def pick(self, items: Sequence):
        return items[int(self.g.integers(0, len(items)))]

    def weighted(self, pairs: Sequence[tuple[object, float]]):
        left = self.random() * sum(w for _, w in pairs)
        for item, w in pairs:
            left -= w
            if left < 0:
                return item
        return pairs[-1][0]

    def token(self, length: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
        return "".join(alphabet[int(i)] for i in self.g.integers(0, len(alphabet), size=length))


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _local(moment: datetime, timezone: str) -> datetime:
    """A naive workspace-local time as naive local time in ``timezone``."""
    return moment.replace(tzinfo=_LOCAL).astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


def _from_zone(moment: datetime, timezone: str) -> datetime:
    """A naive time in ``timezone`` as a naive workspace-local time."""
    return moment.replace(tzinfo=ZoneInfo(timezone)).astimezone(_LOCAL).replace(tzinfo=None)


def _unambiguous(moment: datetime, timezone: str) -> datetime:
    """Move ``moment`` (workspace-local) out of the hour a DST change repeats on ``timezone``'s clock,
    so that the time written in that file's own clock means one instant only."""
    zone = ZoneInfo(timezone)
    while True:
        wall = _local(moment, timezone)
        if wall.replace(tzinfo=zone, fold=0).utcoffset() == wall.replace(tzinfo=zone, fold=1).utcoffset():
            return moment
        moment += timedelta(hours=2)


# =============================================================================
# Records
# =============================================================================


@dataclass
class Customer:
    customer_id: str
    name: str
    country: str
    owner: str | None = None  # CRM owner today (B2B only)
    sold_by: str | None = None  # who sold to it before any hand-over (the leaver's accounts)
    key_account: bool = False
    currency: str = "USD"
    # B2B behaviour
    tier: str = "store"  # key | regular | new | store
    first_order: date | None = None
    interval_days: float = 0.0
    size_usd: float = 0.0
    quiet_from: date | None = None
    slow_payer: bool = False
    contact: str | None = None
    since: int | None = None


@dataclass
class Line:
    sku: str
    description: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    unit_cost: Decimal | None
    unit: str = "pcs"

    @property
    def gross(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class Order:
    source: str
    store: Store | None
    order_id: str
    ordered_at: datetime  # workspace-local
    currency: str
    customer: Customer
    lines: list[Line]
    country: str
    member_id: str | None = None  # the salesperson written on the row (B2B)
    tax: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    payment_terms: str = "prepaid"
    status: str = "open"
    incoterm: str = ""
    credited: str | None = None  # who the pipeline will credit (computed)
    cancelled_at: datetime | None = None  # WooCommerce C-row, Amazon cancellation
    shipped_at: datetime | None = None  # first shipment (workspace-local); None: not shipped (yet)

    @property
    def gross(self) -> Decimal:
        return sum((ln.gross for ln in self.lines), Decimal(0))

    @property
    def discount(self) -> Decimal:
        return sum((ln.discount for ln in self.lines), Decimal(0))

    @property
    def revenue(self) -> Decimal:
        return self.gross - self.discount

    @property
    def total(self) -> Decimal:
        return self.revenue + self.tax + self.shipping


@dataclass
class Refund:
    refund_id: str
    order: Order
    refunded_at: datetime
    amount: Decimal
    kind: str
    reason: str


@dataclass
class Collection:
    collection_id: str
    order: Order
    received_on: date
    amount: Decimal
    stage: str


@dataclass
class Inquiry:
    inquiry_id: str
    received_at: datetime
    first_reply_at: datetime | None
    owner: str
    customer_id: str | None
    country: str
    channel: str
    converted_order_id: str | None
    product: str


@dataclass
class World:
    window: Window
    settings: Settings
    fx: dict[tuple[str, date], Decimal] = field(default_factory=dict)
    customers: list[Customer] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    collections: list[Collection] = field(default_factory=list)
    inquiries: list[Inquiry] = field(default_factory=list)
    leave_day: date | None = None

    def rate(self, currency: str, day: date) -> Decimal:
        return Decimal(1) if currency == "CNY" else self.fx[(currency, day)]

    def revenue_cny(self, order: Order) -> Decimal:
        return order.revenue * self.rate(order.currency, order.ordered_at.date())


# =============================================================================
# FX: a gentle mean-reverting walk around realistic levels; AED and SAR pegged to USD
# =============================================================================

_FX_LEVELS = (("USD", 7.10, 0.0018, 4), ("EUR", 7.72, 0.0030, 4), ("GBP", 9.02, 0.0032, 4), ("JPY", 0.0475, 0.0040, 6))
_PEGS = (("AED", Decimal("3.6725")), ("SAR", Decimal("3.75")))


def _fx_rates(world: World, rng: _Rng) -> None:
    days = [world.window.first_day - timedelta(days=7) + timedelta(days=i)
            for i in range((world.window.last_day - world.window.first_day).days + 8)]
    for currency, level, sd, places in _FX_LEVELS:
        x = rng.normal(0, sd * 3)
        for day in days:
            x = 0.97 * x + rng.normal(0, sd)
            world.fx[(currency, day)] = _dec(level * math.exp(x), places)
    for currency, peg in _PEGS:
        for day in days:
            world.fx[(currency, day)] = (world.fx[("USD", day)] / peg).quantize(Decimal("0.0001"), ROUND_HALF_UP)


# =============================================================================
# Store orders (Shopify, Amazon US/DE, WooCommerce UK)
# =============================================================================


def _person_name(rng: _Rng, country: str) -> tuple[str, str]:
    first, last = _NAMES[_NAME_GROUP.get(country, "en")]
    return rng.pick(first), rng.pick(last)


def _new_store_customer(rng: _Rng, store: Store, country: str, serial: int) -> Customer:
    first, last = _person_name(rng, country)
    if store.key == "shopify":
        customer_id = str(7_104_000_000 + serial * 97 + rng.integers(0, 90))
    elif store.platform == "amazon":
        domain = "amazon.de" if store.currency == "EUR" else "amazon.com"
        customer_id = f"{rng.token(14)}@marketplace.{domain}"
    else:
        domain = rng.pick(("example.com", "example.org", "example.net"))
        customer_id = f"{_ascii(first)}.{_ascii(last)}{rng.integers(1, 99)}@{domain}"
    return Customer(customer_id, f"{first} {last}", country)


def _unit_cost(product: StoreProduct, currency: str) -> Decimal | None:
    if product.cost_cny is None:
        return None
    return _money(Decimal(product.cost_cny) / PRICE_LIST_RATES[currency], currency)


def _basket(rng: _Rng, launched: bool) -> list[tuple[StoreProduct, int]]:
    choices = [(p, p.weight) for p in STORE_CATALOGUE if launched or p.sku != NEW_FLAGSHIP]
    lead = rng.weighted(choices)
    basket = [(lead, 1 if not lead.accessory else 1 + (rng.random() < 0.3))]
    if lead.sku in STATIONS and rng.random() < 0.35:
        basket.append((rng.weighted([(p, p.weight) for p in STORE_CATALOGUE if p.sku in ("GP-SP100", "GP-SP200")]), 1))
    if rng.random() < 0.25:
        extra = rng.weighted([(p, 1.0) for p in STORE_CATALOGUE if p.accessory])
        if all(extra.sku != p.sku for p, _ in basket):
            basket.append((extra, 1 + (rng.random() < 0.25)))
    if lead.sku == "GP-PS300" and rng.random() < 0.04:
        basket[0] = (lead, 2)
    return basket


_US_SALES_TAX = (("0", .45), ("0.0625", .1), ("0.0725", .15), ("0.08", .1), ("0.0875", .1), ("0.06", .1))


def _store_orders(world: World, seed: int) -> None:
    window = world.window
    launch = window.last_day - timedelta(days=55)
    for store in STORES:
        rng = _Rng(seed, f"store:{store.key}")
        zone = ZoneInfo(store.timezone)
        moments: list[tuple[datetime, date]] = []
        for day in [window.first_day - timedelta(days=1), *window.days, window.last_day + timedelta(days=1)]:
            t = window.progress(day)
            volume, _ = _store_events(store, day)
            lam = (store.per_day * (store.trend[0] + (store.trend[1] - store.trend[0]) * t)
                   * _MONTH_SEASON[day.month - 1] * _WEEKDAY_B2C[day.weekday()] * volume)
            for _ in range(rng.poisson(lam)):
                hour = int(rng.g.choice(24, p=_HOURS_B2C))
                wall = datetime.combine(day, time(hour, rng.integers(0, 60), rng.integers(0, 60)), tzinfo=zone)
                moment = wall.astimezone(_LOCAL).replace(tzinfo=None)
                if window.contains(moment):
                    moments.append((_unambiguous(moment, store.timezone), day))
        moments.sort()
        pool: list[Customer] = []
        serial = 0
        for moment, store_day in moments:
            if pool and rng.random() < store.repeat_rate:
                customer = pool[rng.integers(0, len(pool))]
            else:
                serial += 1
                customer = _new_store_customer(rng, store, rng.weighted(store.countries), serial)
                pool.append(customer)
            _, promo = _store_events(store, store_day)
            rate = promo if promo is not None and rng.random() < 0.6 else None
            if rate is None and rng.random() < (0.22 if store.key == "shopify" else 0.12):
                rate = Decimal("0.10") if store.platform != "amazon" else Decimal("0.05")
            lines = []
            for product, qty in _basket(rng, moment.date() >= launch):
                price = product.price(store.currency)
                discount = _money(price * qty * rate, store.currency) if rate else Decimal("0.00")
                lines.append(Line(product.sku, product.name, qty, price, discount,
                                  _unit_cost(product, store.currency)))
            order = Order(store.source, store, "", moment, store.currency, customer, lines, customer.country)
            if store.key == "shopify":
                _shopify_tax_and_shipping(rng, order)
            world.orders.append(order)
        _number_store_orders(rng, store, [o for o in world.orders if o.store is store])
        for customer in pool:
            world.customers.append(customer)


def _shopify_tax_and_shipping(rng: _Rng, order: Order) -> None:
    net = order.revenue
    if order.country == "United States":
        order.tax = _money(net * Decimal(rng.weighted(_US_SALES_TAX)), "USD")
        order.shipping = Decimal("0.00") if net >= 99 else Decimal("9.99")
    else:
        heavy = any(ln.sku in ("GP-PS2000", "GP-PS3600", "GP-EXB1") for ln in order.lines)
        order.shipping = Decimal("59.00") if heavy else Decimal("29.00")
        if order.country == "Canada":
            order.tax = _money(net * Decimal("0.05"), "USD")
    order.tax = order.tax if order.tax else Decimal("0.00")


def _number_store_orders(rng: _Rng, store: Store, orders: list[Order]) -> None:
    if store.key == "shopify":
        for i, order in enumerate(orders):
            order.order_id = f"#{4821 + i}"
    elif store.key == "woocommerce":
        number = 23150
        for order in orders:
            number += rng.integers(1, 4)
            order.order_id = str(number)
    else:
        prefixes = ("111", "112", "113", "114") if store.currency == "USD" else ("302", "303", "304", "305", "306")
        seen: set[str] = set()
        for order in orders:
            while True:
                oid = f"{rng.pick(prefixes)}-{rng.token(7, '0123456789')}-{rng.token(7, '0123456789')}"
                if oid not in seen:
                    break
            seen.add(oid)
            order.order_id = oid


_SHOPIFY_REASONS = ("Customer return - changed mind", "Defective unit, replaced by refund", "Damaged in shipping",
                    "Wrong item shipped")
_PARTIAL_REASONS = ("Partial refund - cosmetic damage", "Partial refund - late delivery", "Price match")
_AMAZON_REASONS = ("Item defective or doesn't work", "No longer needed", "Better price available",
                   "Item arrived damaged", "Inaccurate website description")


def _store_refunds(world: World, seed: int) -> None:
    rng = _Rng(seed, "store-refunds")
    end = world.window.end
    shopify_serial = 0
    for order in world.orders:
        store = order.store
        if store is None:
            continue
        r = rng.random()
        if store.platform == "amazon" and r < 0.012:  # cancelled by the buyer before dispatch
            when = _second(order.ordered_at + timedelta(hours=rng.uniform(1, 20)))
            if when < end:
                order.cancelled_at = when
                world.refunds.append(Refund(f"{order.order_id}-C1", order, when, order.revenue, "cancellation",
                                            "Buyer cancelled before dispatch"))
            continue
        if store.key == "woocommerce" or r >= (0.04 if store.key == "shopify" else 0.065):
            continue
        when = order.ordered_at + timedelta(days=rng.uniform(4, 35), hours=rng.uniform(0, 8))
        if when >= end:
            continue
        when = _unambiguous(_second(when), store.timezone)
        line = order.lines[rng.integers(0, len(order.lines))]
        unit_net = _money((line.gross - line.discount) / line.quantity, order.currency)
        if rng.random() < 0.3:
            share = _dec(rng.uniform(0.1, 0.25), 2)
            amount, reason = _money(unit_net * share, order.currency), rng.pick(_PARTIAL_REASONS)
        else:
            amount = unit_net
            reason = rng.pick(_SHOPIFY_REASONS if store.key == "shopify" else _AMAZON_REASONS)
        if store.key == "shopify":
            shopify_serial += 1
            refund_id = str(9_140_000_000 + shopify_serial * 13)
        else:
            refund_id = f"{order.order_id}-R1"
        world.refunds.append(Refund(refund_id, order, when, amount, "refund", reason))
    # WooCommerce: a couple of orders cancelled the next day, as "C" rows with negative quantities
    woo = [o for o in world.orders if o.store is not None and o.store.key == "woocommerce"
           and o.discount == 0 and o.ordered_at < end - timedelta(days=3)]
    for i in sorted(rng.g.choice(len(woo), size=min(3, len(woo)), replace=False).tolist()):
        chosen = woo[i]
        chosen.cancelled_at = _unambiguous(_second(chosen.ordered_at + timedelta(hours=rng.uniform(3, 30))),
                                           "Europe/London")


# =============================================================================
# B2B: accounts, T/T orders, deposits and balances, claims
# =============================================================================


def _b2b_customers(world: World, seed: int) -> list[Customer]:
    rng = _Rng(seed, "b2b-customers")
    window = world.window
    span = (window.last_day - window.first_day).days
    accounts: list[Customer] = []
    names: set[str] = set()
    serial = 0
    for owner, country, count, keys in B2B_BOOK:
        cities, suffixes = _COMPANY_WORDS[country]
        for i in range(count):
            serial += 1
            while True:
                name = f"{rng.pick(cities)} {rng.pick(_COMPANY_CORE)} {rng.pick(suffixes)}"
                if name not in names:
                    names.add(name)
                    break
            key = i < keys
            new = not key and rng.random() < NEW_ACCOUNT_SHARE[owner]
            currency = {"Turkey": "EUR", "Poland": "EUR", "Japan": "JPY"}.get(country, "USD")
            if country == "United Arab Emirates" and owner == "omar.haddad" and not key and i < 4:
                currency = "AED"
            if country == "Saudi Arabia" and owner == "zhaoqiang" and i == 3:
                currency = "SAR"
            c = Customer(f"KH{serial:04d}", name, country, owner=owner, sold_by=owner, key_account=key,
                         currency=currency, contact=rng.pick(_CONTACTS[_REGION[country]]),
                         since=window.first_day.year - rng.integers(1, 11))
            if key:
                c.tier, c.interval_days, c.size_usd = "key", rng.uniform(13, 21), rng.lognormal(38000, 0.3)
            elif new:
                u = rng.random() ** (0.45 if owner == "sunli" else 1.0)
                c.tier, c.interval_days, c.size_usd = "new", rng.uniform(28, 45), rng.lognormal(9000, 0.3)
                c.first_order = window.first_day + timedelta(days=int(u * span * 0.92))
            else:
                c.tier, c.interval_days, c.size_usd = "regular", rng.uniform(35, 55), rng.lognormal(13000, 0.35)
            if c.first_order is None:
                c.first_order = window.first_day + timedelta(days=int(rng.uniform(0, c.interval_days)))
            c.size_usd *= ORDER_SIZE[owner]
            if new:
                c.since = c.first_order.year
            accounts.append(c)
    # The story: two key accounts go quiet; the leaver's smaller accounts follow him out.
    saudi_keys = [c for c in accounts if c.key_account and c.country == "Saudi Arabia"]
    brazil_keys = [c for c in accounts if c.key_account and c.country == "Brazil"]
    for c, days in ((saudi_keys[-1], 70), (brazil_keys[0], 58)):
        c.quiet_from = window.last_day - timedelta(days=days)
    leave = world.leave_day
    for c in [c for c in accounts if c.owner == LEAVER and not c.key_account][:2]:
        c.quiet_from = leave
    slow = [c for c in accounts if _REGION[c.country] == "africa" and c.tier != "new" and not c.quiet_from]
    if slow:  # one established buyer pays its balances months late
        slow[0].slow_payer = True
    # The CRM is a snapshot of today: the leaver's accounts now belong to his successor.
    for c in accounts:
        if c.owner == LEAVER:
            c.owner = SUCCESSOR
    return accounts


def _trade_price(usd: Decimal, currency: str) -> Decimal:
    value = usd * USD_CROSS[currency]
    step = {"JPY": Decimal(10)}.get(currency, Decimal("0.05") if value < 100 else Decimal("0.10"))
    return _money(_to_step(value, step), currency)


def _b2b_orders(world: World, seed: int, accounts: list[Customer]) -> None:
    rng = _Rng(seed, "b2b-orders")
    window = world.window
    orders: list[Order] = []
    for c in accounts:
        region = _REGION[c.country]
        day = c.first_order
        first = True
        while day is not None and day <= window.last_day:
            slipped = _trade_holiday(day, region)
            if slipped:
                day = slipped + timedelta(days=rng.integers(0, 5))
                continue
            if c.quiet_from and day >= c.quiet_from:
                break
            if day.weekday() == 6:
                day += timedelta(days=1)
                continue
            owner = c.sold_by
            if owner == LEAVER and world.leave_day and day >= world.leave_day:
                owner = SUCCESSOR
            t = window.progress(day)
            size = c.size_usd * (0.8 + 0.5 * t if owner == "sunli" else 1.0)
            if c.tier == "new" and first:
                size = rng.lognormal(4500, 0.3) * ORDER_SIZE.get(owner, 1.0)
            order = _trade_order(rng, c, owner, day, size, first)
            if window.contains(order.ordered_at):
                orders.append(order)
            first = False
            day = day + timedelta(days=max(5, int(rng.g.gamma(4.0, c.interval_days / 4.0))))
    orders.sort(key=lambda o: o.ordered_at)
    per_month: dict[str, int] = {}
    for order in orders:
        label = order.ordered_at.strftime("%y%m")
        per_month[label] = per_month.get(label, 0) + 1
        order.order_id = f"PI{label}-{per_month[label]:03d}"
    # Two orders cancelled by the buyer before any deposit (status cancelled, no money moved).
    candidates = [o for o in orders if o.payment_terms == "TT30/70"
                  and window.first_day + timedelta(days=14) <= o.ordered_at.date() <= window.last_day - timedelta(days=21)]
    for i in sorted(rng.g.choice(len(candidates), size=min(2, len(candidates)), replace=False).tolist()):
        candidates[i].status = "cancelled"
    # The ERP leaves 业务员 blank on a few orders: the CRM owner gets the credit.
    for o in orders:
        if o.member_id != LEAVER and o.member_id != SUCCESSOR and rng.random() < 0.05:
            o.member_id = None
    world.orders.extend(orders)


def _trade_order(rng: _Rng, c: Customer, owner: str, day: date, size_usd: float, first: bool) -> Order:
    hour = rng.integers(9, 22)
    moment = datetime.combine(day, time(hour, rng.integers(0, 60)))
    mix = TRADE_MIX[_REGION[c.country]]
    count = 1 + sum(rng.random() < 0.4 for _ in range(3))
    skus: list[str] = []
    while len(skus) < count:
        sku = rng.weighted(mix)
        if sku not in skus:
            skus.append(sku)
        elif len(skus) == len(mix):
            break
    shares = rng.g.dirichlet(np.ones(len(skus)))
    lines = []
    for sku, share in zip(skus, shares):
        product = _TRADE[sku]
        if sku == "GP-OEM":
            list_usd = Decimal(rng.integers(15, 90) * 10)
        else:
            list_usd = Decimal(product.usd)
        factor = Decimal(_dec((0.95 if c.key_account else 1.0) * (1 + rng.normal(0, 0.03)), 4))
        price = _trade_price(list_usd * factor, c.currency)
        units = max(1, round(float(share) * size_usd / float(list_usd) / product.step)) * product.step
        cost = None
        if product.cost_cny is not None:
            cost = _money(Decimal(product.cost_cny) / PRICE_LIST_RATES[c.currency], c.currency)
        lines.append(Line(sku, product.name, units, price, _money(0, c.currency), cost, product.unit))
    if c.country == "Japan":
        terms = "OA60"
    elif (first and c.tier == "new") or sum(float(ln.gross) for ln in lines) / float(USD_CROSS[c.currency]) < 6000:
        terms = "TT100"
    else:
        terms = "TT30/70"
    order = Order("b2b_orders", None, "", moment, c.currency, c, lines, c.country, member_id=owner,
                  payment_terms=terms)
    if rng.random() < 0.5:
        value_usd = float(order.gross) / float(USD_CROSS[c.currency])
        containers = max(1, math.ceil(value_usd / 55000))
        freight = rng.uniform(450, 1200) if value_usd < 8000 else containers * rng.uniform(1800, 4200)
        order.shipping = _money(_to_step(Decimal(_dec(freight, 2)) * USD_CROSS[c.currency], Decimal(10)), c.currency)
        order.incoterm = f"CIF {_PORT[c.country]}"
    else:
        order.shipping = _money(0, c.currency)
        order.incoterm = f"FOB {'Shenzhen' if rng.random() < 0.7 else 'Ningbo'}"
    return order


_CLAIM_REASONS = ("运输破损，协商补偿", "部分组件功率不达标，折让", "延期交货赔偿", "包装受潮，协商折让", "少发配件，退款")


def _b2b_money(world: World, seed: int) -> None:
    """Deposits, balances and full payments as they reached the bank; a few quality claims."""
    rng = _Rng(seed, "b2b-money")
    window = world.window
    receipts: list[tuple[date, Order, Decimal, str]] = []
    for order in (o for o in world.orders if o.source == "b2b_orders" and o.status == "open"):
        day = order.ordered_at.date()
        total = order.total
        if order.payment_terms == "TT30/70":
            deposit = _money(total * Decimal("0.3"), order.currency)
            receipts.append((day + timedelta(days=rng.integers(1, 9)), order, deposit, "deposit"))
            lag = rng.integers(28, 56) + (rng.integers(40, 90) if order.customer.slow_payer else 0)
            balance = total - deposit
            if rng.random() < 0.05:  # the buyer's bank took its charges out of the transfer
                balance -= _money(Decimal(rng.pick((15, 25, 35, 45))) * USD_CROSS[order.currency], order.currency)
            receipts.append((day + timedelta(days=lag), order, balance, "balance"))
        elif order.payment_terms == "OA60":
            receipts.append((day + timedelta(days=rng.integers(60, 76)), order, total, "full"))
        else:
            receipts.append((day + timedelta(days=rng.integers(1, 8)), order, total, "full"))
    receipts = sorted((r for r in receipts if r[0] <= window.last_day), key=lambda r: (r[0], r[1].order_id, r[3]))
    per_day: dict[date, int] = {}
    for day, order, amount, stage in receipts:
        per_day[day] = per_day.get(day, 0) + 1
        world.collections.append(Collection(f"SK{day:%Y%m%d}-{per_day[day]:02d}", order, day, amount, stage))
    # Quality claims on a few older orders: a partial refund of one line.
    claims = []
    for order in (o for o in world.orders if o.source == "b2b_orders" and o.status == "open"):
        if rng.random() < 0.03:
            when = order.ordered_at + timedelta(days=rng.integers(35, 90))
            if when < window.end:
                line = order.lines[rng.integers(0, len(order.lines))]
                amount = _money(line.gross * Decimal(_dec(rng.uniform(0.03, 0.12), 3)), order.currency)
                claims.append((datetime.combine(when.date(), time()), order, amount))
    claims.sort(key=lambda c: (c[0], c[1].order_id))
    for i, (when, order, amount) in enumerate(claims, start=1):
        world.refunds.append(Refund(f"TK{when:%y%m}-{i:03d}", order, when, amount, "refund", rng.pick(_CLAIM_REASONS)))


_PRODUCTION_DAYS = (12, 36)  # B2B: production, inspection and a booked vessel before the container leaves


def _shipments(world: World, seed: int) -> None:
    """When each order first shipped: a B2B container two to five weeks after the order (the
    latest ones have not left by the end, so the B2B plan's ``shipped`` portion is still held),
    a store parcel within two days. Cancelled orders never ship."""
    rng = _Rng(seed, "shipments")
    for order in world.orders:
        if order.status == "cancelled" or order.cancelled_at is not None:
            continue
        if order.source == "b2b_orders":
            day = order.ordered_at.date() + timedelta(days=rng.integers(*_PRODUCTION_DAYS))
            when = datetime.combine(day, time(rng.integers(9, 18), rng.pick((0, 30))))
        else:
            when = _second(order.ordered_at + timedelta(hours=rng.uniform(6, 44)))
        if when < world.window.end:
            order.shipped_at = when


# =============================================================================
# Attribution (as the pipeline does it) and inquiries
# =============================================================================


def _attribute(world: World) -> None:
    territory = world.settings.territory_of()
    for order in world.orders:
        order.credited = order.member_id or order.customer.owner or territory.get(order.country)


_B2B_CHANNELS = (("Alibaba.com", .30), ("WhatsApp", .25), ("Email", .18), ("Website", .15),
                 ("Made-in-China.com", .07), ("Canton Fair", .05))
_STORE_CHANNELS = {"shopify": (("Shopify chat", .6), ("Email", .3), ("WhatsApp", .1)),
                   "amazon": (("Amazon messages", 1.0),),
                   "woocommerce": (("Website chat", .6), ("Email", .4))}


def _reply(rng: _Rng, person: Person, received: datetime, end: datetime) -> datetime | None:
    """When ``person`` first answered an inquiry received at ``received`` (None: not yet)."""
    if rng.random() < person.unanswered:
        return None
    zone = person.work_timezone
    start, stop = person.work_hours
    moment = _local(received, zone)
    minutes = rng.lognormal(person.reply_minutes, person.reply_spread)
    for _ in range(30):  # walk working time forward until the delay is spent
        if moment.weekday() >= person.work_days or moment.hour >= stop:
            moment = datetime.combine(moment.date() + timedelta(days=1), time(start, 0)) + timedelta(
                minutes=rng.uniform(0, 40))
            continue
        if moment.hour < start:
            moment = datetime.combine(moment.date(), time(start, 0)) + timedelta(minutes=rng.uniform(0, 40))
            continue
        room = (datetime.combine(moment.date(), time(stop, 0)) - moment).total_seconds() / 60
        if minutes <= room:
            moment += timedelta(minutes=minutes)
            break
        minutes -= room
        moment = datetime.combine(moment.date(), time(stop, 0))
    replied = _from_zone(moment, zone).replace(second=0, microsecond=0)
    replied = max(replied, received + timedelta(minutes=1))
    return replied if replied < end else None


def _inquiries(world: World, seed: int) -> None:
    """询盘: the ones that became orders (every new B2B account's first order, half of the repeat
    orders, 15-20% of each e-commerce member's inquiries), then the ones that did not (yet)."""
    rng = _Rng(seed, "inquiries")
    window = world.window
    weeks = max((window.last_day - window.first_day).days / 7, 1)
    drafts: list[tuple[datetime, str, Customer | None, str, str, Order | None, str]] = []
    seen_accounts: set[str] = set()
    for order in (o for o in world.orders if o.source == "b2b_orders"):
        c = order.customer
        first = c.customer_id not in seen_accounts
        seen_accounts.add(c.customer_id)
        if (first and c.tier == "new") or (not first and rng.random() < 0.5):
            lead = timedelta(days=rng.uniform(7, 40) if first else rng.uniform(2, 15), minutes=rng.integers(0, 600))
            received = order.ordered_at - lead
            if received >= window.start:
                channel = rng.weighted(_B2B_CHANNELS) if first else rng.pick(("WhatsApp", "Email"))
                drafts.append((received, order.credited or c.owner or SUCCESSOR, c, c.country, channel, order,
                               order.lines[0].sku))
    for person in MEMBERS:
        if person.team_id != ECOM:
            continue
        mine = [o for o in world.orders if o.store is not None and o.credited == person.member_id]
        expected = (person.inquiries_per_week[0] + person.inquiries_per_week[1]) / 2 * weeks
        take = min(len(mine), int(round(expected * rng.uniform(0.15, 0.2))))
        chosen = sorted(rng.g.choice(len(mine), size=take, replace=False).tolist()) if take else []
        for i in chosen:
            order = mine[i]
            received = order.ordered_at - timedelta(hours=rng.uniform(0.3, 48))
            if received >= window.start:
                drafts.append((received, person.member_id, order.customer, order.country,
                               rng.weighted(_STORE_CHANNELS[order.store.platform]), order, order.lines[0].sku))
    accounts_of: dict[str, list[Customer]] = {}
    for c in world.customers:
        if c.owner:
            accounts_of.setdefault(c.owner, []).append(c)
    for person in MEMBERS:
        countries = (world.settings.territories.get(person.member_id)
                     or [c.country for c in accounts_of.get(person.member_id, [])]
                     or ["Turkey", "Pakistan", "Poland"])  # the leaver: his accounts are his successor's now
        accounts = accounts_of.get(person.member_id, [])
        if person.team_id == B2B:
            channels, products = _B2B_CHANNELS, [p.sku for p in TRADE_CATALOGUE]
        elif person.member_id == "emily.carter":
            channels, products = _STORE_CHANNELS["woocommerce"], list(STATIONS[:4])
        else:
            channels, products = (("Shopify chat", .5), ("Amazon messages", .3), ("Email", .2)), list(STATIONS[:4])
        stop = world.leave_day if person.member_id == LEAVER else window.last_day + timedelta(days=1)
        for day in window.days:
            if day >= stop:
                break
            low, high = person.inquiries_per_week
            lam = (low + (high - low) * window.progress(day)) / 7 * 0.82
            lam *= 0.45 if day.weekday() >= 5 else 1.22
            for _ in range(rng.poisson(lam)):
                received = datetime.combine(day, time()) + timedelta(minutes=rng.integers(0, 24 * 60))
                customer = rng.pick(accounts) if accounts and rng.random() < 0.25 else None
                drafts.append((received, person.member_id, customer, customer.country if customer else rng.pick(countries),
                               rng.weighted(channels), None, rng.pick(products)))
    drafts.sort(key=lambda d: (d[0], d[1], d[5].order_id if d[5] else ""))
    per_day: dict[date, int] = {}
    for received, owner, customer, country, channel, order, product in drafts:
        received = received.replace(second=0, microsecond=0)
        per_day[received.date()] = per_day.get(received.date(), 0) + 1
        replied = _reply(rng, PEOPLE[owner], received, window.end)
        if order is not None and (replied is None or replied > order.ordered_at):
            # it became an order, so someone answered before the order was placed
            gap = (order.ordered_at - received).total_seconds() / 60
            replied = received + timedelta(minutes=max(1, int(gap * rng.uniform(0.1, 0.6))))
        world.inquiries.append(Inquiry(
            f"XP{received:%y%m%d}{per_day[received.date()]:03d}", received, replied, owner,
            customer.customer_id if customer else None, country, channel, order.order_id if order else None, product))


# =============================================================================
# Targets and evaluation scores
# =============================================================================


def _round_target(value: float, step: int) -> Decimal:
    return Decimal(max(step, int(round(value / step)) * step))


def _targets(world: World) -> list[dict]:
    window = world.window
    days = (window.last_day - window.first_day).days + 1
    revenue: dict[str, list[tuple[date, Decimal]]] = {}
    orders: dict[str, int] = {}
    new_accounts: dict[str, int] = {}
    seen: set[str] = set()
    for o in sorted(world.orders, key=lambda o: o.ordered_at):
        if o.status == "cancelled" or o.credited is None:
            continue
        revenue.setdefault(o.credited, []).append((o.ordered_at.date(), world.revenue_cny(o)))
        orders[o.credited] = orders.get(o.credited, 0) + 1
        if o.source == "b2b_orders" and o.customer.customer_id not in seen:
            seen.add(o.customer.customer_id)
            if o.customer.tier == "new":
                new_accounts[o.credited] = new_accounts.get(o.credited, 0) + 1
    rows: list[dict] = []

    def add(sheet: str, scope: str, scope_id: str, period: Period, metric: str, value: Decimal, currency: str | None):
        rows.append({"_sheet": sheet, "scope": scope, "scope_id": scope_id, "period": period.label, "metric": metric,
                     "value": value, "currency": currency})

    monthly: dict[tuple[str, str], Decimal] = {}
    weekly: dict[tuple[str, str], Decimal] = {}
    months, weeks = window.months(), window.weeks()
    for person in MEMBERS:
        history = revenue.get(person.member_id, [])
        if not history:
            continue
        active_until = world.leave_day if person.member_id == LEAVER else window.last_day + timedelta(days=1)
        active_days = (active_until - window.first_day).days
        if person.member_id == "zhangwei":  # planned on the spring pace; the slide came after
            early_days = min(42, days)
            early = window.first_day + timedelta(days=early_days)
            pace = float(sum((v for d, v in history if d < early), Decimal(0))) / early_days
        else:
            pace = float(sum((v for _, v in history), Decimal(0))) / active_days
        for m in months:
            if m.start >= active_until:
                continue
            season = {7: 1.1, 11: 1.25, 12: 1.3, 1: 0.85}.get(m.start.month, 1.0) if person.team_id == ECOM else 1.0
            value = pace * m.days * person.target_factor * season
            if person.member_id == LEAVER and m.start < active_until < m.end:  # his last month, prorated
                value *= (active_until - m.start).days / m.days
            step = 10000 if value >= 300000 else 5000 if value >= 50000 else 1000
            monthly[(person.member_id, m.label)] = _round_target(value, step)
            add("月目标", "member", person.member_id, m, "revenue", monthly[(person.member_id, m.label)], "CNY")
            if person.team_id == ECOM:
                add("月目标", "member", person.member_id, m, "orders",
                    _round_target(orders[person.member_id] / active_days * m.days * person.target_factor, 1), None)
            elif person.role in ("sales", "lead") and new_accounts.get(person.member_id):
                add("月目标", "member", person.member_id, m, "new_customers",
                    _round_target(new_accounts[person.member_id] / days * m.days * 1.2, 1), None)
        for w in weeks:
            if w.start >= active_until:
                continue
            m = month(w.start + timedelta(days=3))
            base = monthly.get((person.member_id, m.label))
            if base is None:
                continue
            value = float(base) / m.days * 7
            weekly[(person.member_id, w.label)] = _round_target(value, 1000 if value >= 20000 else 500)
            add("周目标", "member", person.member_id, w, "revenue", weekly[(person.member_id, w.label)], "CNY")
    for team_id, *_ in TEAMS:
        members = [p.member_id for p in MEMBERS if p.team_id == team_id]
        for m in months:
            total = sum((monthly.get((mid, m.label), Decimal(0)) for mid in members), Decimal(0))
            if total:
                add("月目标", "team", team_id, m, "revenue", total, "CNY")
        for w in weeks:
            total = sum((weekly.get((mid, w.label), Decimal(0)) for mid in members), Decimal(0))
            if total:
                add("周目标", "team", team_id, w, "revenue", total, "CNY")
    rows.sort(key=lambda r: (r["_sheet"], r["period"], r["scope"] != "team", r["scope_id"], r["metric"]))
    return rows


_DIMENSIONS = ("attitude", "skill", "teamwork", "responsiveness")


def _scores(world: World, seed: int) -> list[dict]:
    rng = _Rng(seed, "scores")
    window = world.window
    rows = []
    months = [m for m in window.months() if m.end <= window.last_day + timedelta(days=1)]
    for k, m in enumerate(months):
        for person in MEMBERS:
            if person.member_id == LEAVER and m.end > world.leave_day:
                continue
            manager = PEOPLE.get(person.manager_id or "")
            for i, dimension in enumerate(_DIMENSIONS):
                raw = person.scores[i] + person.score_trend * k + rng.normal(0, 0.18)
                score = _dec(min(5.0, max(1.0, raw)), 1)
                rows.append({"member_id": person.member_id, "period": m.label, "dimension": dimension, "score": score,
                             "+姓名": person.name, "+评分人": manager.name if manager else "总经理"})
    return rows


# =============================================================================
# Rows per source (Yeji field names; "+Header" keys are extra columns a real export has;
# "_sheet" says which sheet of a multi-sheet source a row goes to)
# =============================================================================


def _source_rows(world: World, seed: int) -> dict[str, list[dict]]:
    rng = _Rng(seed, "rows")
    window = world.window
    # store orders are built too (tests compare them), but only the declared sources are files:
    # the online stores are served by the sandbox (yeji/demo_stores.py), not spreadsheets
    rows: dict[str, list[dict]] = defaultdict(list)
    rows["teams"] = [{"team_id": t, "name": n, "base_currency": c, "lead_member_id": lead} for t, n, c, lead in TEAMS]
    for p in MEMBERS:
        rows["members"].append({"member_id": p.member_id, "name": p.name, "team_id": p.team_id, "role": p.role,
                                "manager_id": p.manager_id, "email": p.email, "language": p.language,
                                "active": p.member_id != LEAVER,
                                "+入职日期": window.first_day - timedelta(days=p.tenure_days)})
    for c in (c for c in world.customers if c.tier != "store"):
        rows["crm_customers"].append({"customer_id": c.customer_id, "name": c.name, "country": c.country,
                                      "customer_class": "key_account" if c.key_account else None,
                                      "owner_member_id": c.owner, "+联系人": c.contact, "+合作起始年份": c.since,
                                      "+结算币种": c.currency})
    shopify_customers: dict[str, Customer] = {}
    refunded_total: dict[int, Decimal] = {}
    for r in world.refunds:
        refunded_total[id(r.order)] = refunded_total.get(id(r.order), Decimal(0)) + r.amount
    for (currency, day), rate in sorted(world.fx.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rows["fx_rates"].append({"rate_date": day, "from_currency": currency, "to_currency": "CNY", "rate": rate})

    for o in world.orders:
        if o.source == "shopify_orders":
            shopify_customers.setdefault(o.customer.customer_id, o.customer)
            refunded = refunded_total.get(id(o), Decimal(0))
            rows["shopify_orders"].append({
                "order_id": o.order_id, "ordered_at": o.ordered_at, "currency": o.currency, "gross": o.gross,
                "discount": o.discount, "tax": o.tax, "shipping": o.shipping, "customer_id": o.customer.customer_id,
                "country": o.country, "platform": "shopify", "store": "Shopify", "payment_terms": "prepaid",
                "status": "open",
                "+Financial Status": ("paid" if not refunded
                                      else "refunded" if refunded >= o.revenue else "partially_refunded"),
                "+Fulfillment Status": "fulfilled" if o.ordered_at < window.end - timedelta(days=2) else "unfulfilled",
            })
            for n, ln in enumerate(o.lines, start=1):
                rows["shopify_order_lines"].append({
                    "order_id": o.order_id, "line_no": n, "sku": ln.sku, "description": ln.description,
                    "quantity": ln.quantity, "unit_price": ln.unit_price, "discount": ln.discount,
                    "unit_cost": ln.unit_cost})
        elif o.source == "amazon":
            recent = o.ordered_at >= window.end - timedelta(days=2)
            status = "Cancelled" if o.cancelled_at else "Pending" if recent else "Shipped"
            for ln in o.lines:
                rows["amazon"].append({
                    "_sheet": o.store.store, "order_id": o.order_id, "ordered_at": o.ordered_at, "store": o.store.store,
                    "currency": o.currency, "sku": ln.sku, "description": ln.description, "quantity": ln.quantity,
                    "unit_price": ln.unit_price, "discount": ln.discount, "unit_cost": ln.unit_cost,
                    "customer_id": o.customer.customer_id, "customer_name": o.customer.name, "country": o.country,
                    "platform": "amazon", "+order-status": status, "+fulfillment-channel": "Amazon",
                    "+asin": f"B0{zlib.crc32(ln.sku.encode()):08X}"})
        elif o.source == "woocommerce_uk":
            recent = o.ordered_at >= window.end - timedelta(days=2)
            status = "cancelled" if o.cancelled_at else "processing" if recent else "completed"
            payment = "Stripe" if rng.random() < 0.7 else "PayPal"
            entries = [(o.order_id, o.ordered_at, 1, status)]
            if o.cancelled_at:
                entries.append((f"C{o.order_id}", o.cancelled_at, -1, "cancelled"))
            for order_id, when, sign, st in entries:
                for ln in o.lines:
                    rows["woocommerce_uk"].append({
                        "order_id": order_id, "ordered_at": when, "currency": "GBP", "sku": ln.sku,
                        "description": ln.description, "quantity": sign * ln.quantity, "unit_price": ln.unit_price,
                        "discount": sign * ln.discount if ln.discount else ln.discount, "unit_cost": ln.unit_cost,
                        "customer_id": o.customer.customer_id, "customer_name": o.customer.name, "country": o.country,
                        "platform": "woocommerce", "store": "WooCommerce UK", "+Order Status": st,
                        "+Payment Method": payment})
        elif o.source == "b2b_orders":
            rows["b2b_orders"].append({
                "order_id": o.order_id, "ordered_at": o.ordered_at, "customer_id": o.customer.customer_id,
                "country": o.country, "member_id": o.member_id, "currency": o.currency, "gross": o.gross,
                "shipping": o.shipping if o.shipping else None, "payment_terms": o.payment_terms, "status": o.status,
                "shipped_at": o.shipped_at, "platform": "b2b", "store": "B2B 外贸", "+客户名称": o.customer.name, "+贸易术语": o.incoterm,
                "+备注": "客户取消" if o.status == "cancelled" else None})
            for n, ln in enumerate(o.lines, start=1):
                rows["b2b_order_lines"].append({
                    "order_id": o.order_id, "line_no": n, "sku": ln.sku, "description": ln.description,
                    "quantity": ln.quantity, "unit_price": ln.unit_price, "unit_cost": ln.unit_cost, "+单位": ln.unit})
    for c in shopify_customers.values():
        rows["shopify_customers"].append({"customer_id": c.customer_id, "name": c.name, "country": c.country,
                                          "+Accepts Email Marketing": "yes" if rng.random() < 0.4 else "no"})
    rows["shopify_customers"].sort(key=lambda r: r["customer_id"])
    for r in sorted(world.refunds, key=lambda r: (r.refunded_at, r.refund_id)):
        o = r.order
        if o.source == "shopify_orders":
            rows["shopify_refunds"].append({
                "refund_id": r.refund_id, "refunded_at": r.refunded_at, "order_id": o.order_id, "amount": r.amount,
                "customer_id": o.customer.customer_id, "country": o.country, "reason": r.reason, "currency": "USD",
                "kind": "refund"})
        elif o.source == "amazon":
            rows["amazon_refunds"].append({
                "refund_id": r.refund_id, "refunded_at": r.refunded_at, "order_id": o.order_id, "currency": o.currency,
                "amount": r.amount, "kind": r.kind, "customer_id": o.customer.customer_id, "country": o.country,
                "reason": r.reason, "+sales-channel": o.store.store})
        elif o.source == "b2b_orders":
            rows["b2b_claims"].append({
                "refund_id": r.refund_id, "refunded_at": r.refunded_at.date(), "order_id": o.order_id,
                "currency": o.currency, "amount": r.amount, "kind": r.kind, "member_id": o.member_id or o.customer.owner,
                "customer_id": o.customer.customer_id, "country": o.country, "reason": r.reason})
    for col in world.collections:
        rows["b2b_collections"].append({
            "collection_id": col.collection_id, "order_id": col.order.order_id,
            "received_at": datetime.combine(col.received_on, time()), "currency": col.order.currency,
            "amount": col.amount, "stage": col.stage, "+付款人": col.order.customer.name})
    for q in world.inquiries:
        rows["inquiries"].append({
            "inquiry_id": q.inquiry_id, "received_at": q.received_at, "first_reply_at": q.first_reply_at,
            "owner_member_id": q.owner, "customer_id": q.customer_id, "country": q.country, "channel": q.channel,
            "converted_order_id": _loaded_order_id(q.converted_order_id), "+询盘产品": q.product})
    rows["targets"] = _targets(world)
    rows["scores"] = _scores(world, seed)
    rows["product_costs"] = _product_costs(world)
    return {s.name: rows[s.name] for s in world.settings.sources}


# One cost change during the window shows effective dates at work: sku -> (new CNY cost, when, as a share of the window)
_COST_CHANGES = {"GP-PS600": (Decimal(1820), 0.6), "GP-SP100": (Decimal(585), 0.3)}


def _product_costs(world: World) -> list[dict]:
    """Finance's SKU cost sheet (成本表): the landed cost in CNY of every store product that has
    one, from the first of the window's first month; Amazon and WooCommerce give no costs, so
    their lines are costed from it. The new flagship and the dropship lantern are not costed yet
    (their orders' profit stays unknown)."""
    first = world.window.first_day.replace(day=1)
    span = (world.window.last_day - world.window.first_day).days
    rows = []
    for p in STORE_CATALOGUE:
        if p.cost_cny is None:
            continue
        rows.append({"sku": p.sku, "effective_from": first, "currency": "CNY", "unit_cost": Decimal(p.cost_cny), "+品名": p.name})
        if p.sku in _COST_CHANGES:
            cost, share = _COST_CHANGES[p.sku]
            moment = world.window.first_day + timedelta(days=int(share * span))
            changed = (moment.replace(day=1) + timedelta(days=32)).replace(day=1)  # the next month's first: after `first`
            rows.append({"sku": p.sku, "effective_from": changed, "currency": "CNY", "unit_cost": cost, "+品名": p.name})
    return rows


def _loaded_order_id(order_id: str | None) -> str | None:
    """The id an order has in the warehouse: Shopify orders (``#4821``) load by their API id."""
    if order_id and order_id.startswith("#"):
        from yeji.demo_stores import shopify_order_id

        return shopify_order_id(order_id)
    return order_id


# =============================================================================
# Writing through the source definitions
# =============================================================================

_FILE_STYLE = {  # what the mapping cannot say: how a real export of this kind looks
    "b2b_orders": {"text_money": ("gross", "shipping")},
    "amazon": {"iso_text": True},
    "b2b_collections": {"title": "星河能源 外贸收款明细（银行到账）"},
}
_SHEET_TITLE = {"product_costs": "成本表", "crm_customers": "客户档案", "inquiries": "询盘记录", "scores": "月度考核", "b2b_collections": "收款明细"}
_DATETIME_FIELDS = ("ordered_at", "refunded_at", "received_at", "first_reply_at", "shipped_at")


def _cell(value, name: str, source: SpreadsheetSource, workspace_timezone: str, to_csv: bool):
    style = _FILE_STYLE.get(source.name, {})
    if value is None:
        return "" if to_csv else None
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE") if to_csv else value
    if isinstance(value, datetime):
        if name in _DATETIME_FIELDS:
            value = value.replace(tzinfo=ZoneInfo(workspace_timezone)).astimezone(
                ZoneInfo(source.timezone or workspace_timezone)).replace(tzinfo=None)
        if source.date_format:
            return value.strftime(source.date_format)
        if to_csv:
            return value.isoformat(sep=" ")
        return value.isoformat() if style.get("iso_text") else value
    if isinstance(value, date):
        if source.date_format:
            return value.strftime(source.date_format)
        return value.isoformat() if to_csv or style.get("iso_text") else value
    if isinstance(value, Decimal):
        if name in style.get("text_money", ()):
            return format(value, ",")
        return format(value, "f") if to_csv else value
    if isinstance(value, int):
        return str(value) if to_csv else value
    return value


def _table(source: SpreadsheetSource, rows: list[dict], workspace_timezone: str, to_csv: bool) -> tuple[list[str], list[list]]:
    fields = list(source.columns)
    extras: list[str] = []
    for row in rows:
        for key in row:
            if key.startswith("+") and key[1:] not in extras:
                extras.append(key[1:])
    for row in rows:  # the generator and yeji.yaml must agree on what `defaults` supply
        for name, value in source.defaults.items():
            if name in row and str(row[name]) != value:
                raise AssertionError(f"{source.name}: row says {name}={row[name]!r}, yeji.yaml defaults {value!r}")
    headers = [source.columns[f] for f in fields] + extras
    body = [[_cell(row.get(f), f, source, workspace_timezone, to_csv) for f in fields]
            + [_cell(row.get("+" + h), h, source, workspace_timezone, to_csv) for h in extras] for row in rows]
    return headers, body


def _write_csv(path: Path, source: SpreadsheetSource, rows: list[dict], workspace_timezone: str) -> None:
    headers, body = _table(source, rows, workspace_timezone, to_csv=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(body)
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")


def _write_xlsx(path: Path, sources: list[SpreadsheetSource], rows: dict[str, list[dict]], workspace_timezone: str,
                stamp: datetime) -> None:
    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for source in sources:
        source_rows = rows[source.name]
        for sheet_name in source.sheets or [_SHEET_TITLE.get(source.name, source.name)]:
            sheet_rows = [r for r in source_rows if r.get("_sheet", sheet_name) == sheet_name]
            headers, body = _table(source, sheet_rows, workspace_timezone, to_csv=False)
            sheet = book.create_sheet(sheet_name)
            title = _FILE_STYLE.get(source.name, {}).get("title")
            for r in range(1, source.header_row):
                sheet.append([title if r == 1 else None])
            if title:
                sheet.cell(row=1, column=1).font = Font(bold=True, size=14)
            sheet.append(headers)
            for c in range(1, len(headers) + 1):
                sheet.cell(row=source.header_row, column=c).font = bold
            for values in body:
                sheet.append(values)
            for c, header in enumerate(headers, start=1):
                sample = [len(str(v)) for v in (row[c - 1] for row in body[:200]) if v is not None]
                width = max([len(header.encode("utf-8")) * 0.7, *sample, 8])
                sheet.column_dimensions[get_column_letter(c)].width = min(width + 2, 48)
                if body and isinstance(body[0][c - 1], datetime):
                    for cell in sheet.iter_rows(min_row=source.header_row + 1, min_col=c, max_col=c):
                        cell[0].number_format = "yyyy-mm-dd hh:mm"
            sheet.freeze_panes = sheet.cell(row=source.header_row + 1, column=1)
    book.properties.creator = "Yeji demo"
    book.properties.created = stamp
    path.write_bytes(_reproducible_xlsx(book, stamp))


def _reproducible_xlsx(book: Workbook, stamp: datetime) -> bytes:
    """The workbook's bytes with fixed zip entry times and a fixed 'modified' property
    (openpyxl stamps both with the current time), so that a seed always gives the same file."""
    raw = io.BytesIO()
    book.save(raw)
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>" + when + rb"\g<2>", data)
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, data)
    return out.getvalue()


# =============================================================================
# The entry point
# =============================================================================


def build_world(settings: Settings, *, seed: int, end: date, weeks: int) -> World:
    """Every record of the demo company, before it is written anywhere."""
    window = Window(end - timedelta(days=weeks * 7 - 1), end)
    world = World(window, settings, leave_day=week(end - timedelta(days=55)).start)
    _fx_rates(world, _Rng(seed, "fx"))
    _store_orders(world, seed)
    accounts = _b2b_customers(world, seed)
    world.customers.extend(accounts)
    _b2b_orders(world, seed, accounts)
    world.orders.sort(key=lambda o: (o.ordered_at, o.source, o.order_id))
    _store_refunds(world, seed)
    _b2b_money(world, seed)
    _shipments(world, seed)
    _attribute(world)
    _inquiries(world, seed)
    return world


def _write_plans(root: Path) -> list[Path]:
    """Copy the demo's commission plan files into ``root/plans/``, to read and edit there. A plan
    file already in the workspace is kept as it is (it may have been edited)."""
    folder = root / "plans"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(DEMO_PLANS.glob("*.yaml")):
        target = folder / source.name
        if not target.exists():
            target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        written.append(Path("plans") / source.name)
    return written


def create_demo_workspace(root: Path, *, seed: int = 7, end: date | None = None, weeks: int = 26) -> DemoSummary:
    """Write a demo workspace into ``root``: ``yeji.yaml`` and the spreadsheets it declares.

    ``end`` is the last day with data (default: the Sunday that ended the last complete
    ISO week, in Asia/Shanghai); the data covers the ``weeks`` weeks up to it. The same
    ``seed`` and ``end`` always give identical files. An existing ``yeji.yaml`` that is
    not the demo configuration is never overwritten (FileExistsError).
    """
    if not 4 <= weeks <= 104:
        raise ValueError(f"weeks must be between 4 and 104, got {weeks}")
    root = Path(root)
    end = end or default_end()
    if isinstance(end, datetime):
        end = end.date()
    template = DEMO_CONFIG.read_text(encoding="utf-8")
    config = root / CONFIG_FILE
    if config.exists() and config.read_text(encoding="utf-8") != template:
        raise FileExistsError(f"{config} exists and is not the demo configuration; refusing to overwrite it")
    settings = load_settings(DEMO_CONFIG)
    if settings.timezone != WORKSPACE_TIMEZONE:
        raise ValueError(f"{DEMO_CONFIG}: the demo generator writes {WORKSPACE_TIMEZONE} times, "
                         f"the configuration says {settings.timezone}")

    world = build_world(settings, seed=seed, end=end, weeks=weeks)
    window = world.window
    rows = _source_rows(world, seed)

    root.mkdir(parents=True, exist_ok=True)
    config.write_text(template, encoding="utf-8")
    # what the sandbox stores need to serve this workspace's store orders again (yeji/demo_stores.py)
    (root / DEMO_MARKER).write_text(json.dumps({"seed": seed, "end": end.isoformat(), "weeks": weeks}) + "\n",
                                    encoding="utf-8")
    by_path: dict[str, list[SpreadsheetSource]] = {}
    for source in settings.sources:
        by_path.setdefault(source.path, []).append(source)
    stamp = datetime.combine(end + timedelta(days=1), time(8, 0))
    files = [Path(CONFIG_FILE)] + _write_plans(root)
    for relative, sources in by_path.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".csv":
            if len(sources) != 1:
                raise ValueError(f"{relative}: a csv file holds one source, yeji.yaml gives it {len(sources)}")
            _write_csv(path, sources[0], rows[sources[0].name], settings.timezone)
        else:
            _write_xlsx(path, sources, rows, settings.timezone, stamp)
        files.append(Path(relative))

    customers = {c.customer_id for c in world.customers}
    orders = world.orders
    counts = {
        "teams": len(TEAMS),
        "members": len(MEMBERS),
        "customers": len(customers),
        "orders": len(orders),
        "order_lines": sum(len(o.lines) for o in orders),
        "cancelled_orders": sum(o.status == "cancelled" or o.cancelled_at is not None for o in orders),
        "refunds": len(world.refunds),
        "collections": len(world.collections),
        "fx_rates": len(world.fx),
        "targets": len(rows["targets"]),
        "scores": len(rows["scores"]),
        "inquiries": len(world.inquiries),
    }
    return DemoSummary(
        root=root, seed=seed, first_day=window.first_day, last_day=window.last_day,
        first_week=week(window.first_day).label, last_week=week(window.last_day).label, counts=counts,
        rows={name: len(r) for name, r in rows.items()}, files=tuple(files),
    )


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yeji.demo", description="Write a Yeji demo workspace.")
    parser.add_argument("root", type=Path, nargs="?", default=Path("demo"), help="folder to write (default: ./demo)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", type=date.fromisoformat, default=None,
                        help="last day with data, YYYY-MM-DD (default: the Sunday ending the last complete week)")
    parser.add_argument("--weeks", type=int, default=26)
    args = parser.parse_args(list(argv) if argv is not None else None)
    print(create_demo_workspace(args.root, seed=args.seed, end=args.end, weeks=args.weeks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
