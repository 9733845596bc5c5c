"""Load ``yeji.yaml`` into :class:`config.models.Settings`, with errors that name file and key."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from config.models import Settings, Workspace
from config.plans import Commission, CommissionPlan

CONFIG_FILE = "yeji.yaml"
STORES_FILE = "sources.yaml"  # optional, beside yeji.yaml: a `stores:` list (online stores)
DEFAULTS = Path(__file__).with_name("defaults")


class ConfigError(Exception):
    """A configuration problem, already phrased for the admin."""


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def parse_settings(data: object, origin: str) -> Settings:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping of settings at the top level")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{origin}: {_key_path(loc)}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (run `yeji init` or `yeji demo` to create a workspace)") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}:{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None


def load_settings(path: Path) -> Settings:
    """``yeji.yaml`` at ``path``, plus the ``stores:`` of ``sources.yaml`` beside it when there is one."""
    settings = with_plan_files(parse_settings(_read_yaml(path), str(path)), path.parent, str(path))
    stores_path = path.with_name(STORES_FILE)
    if not stores_path.is_file():
        return settings
    data = _read_yaml(stores_path)
    if data is None:
        return settings
    if not isinstance(data, dict) or set(data) - {"stores"}:
        raise ConfigError(f"{stores_path}: expected a mapping with one key, `stores:` (a list of stores)")
    if settings.stores and data.get("stores"):
        raise ConfigError(f"{stores_path}: stores are configured in {path.name} too; keep them in one file")
    stores = parse_settings({"stores": data.get("stores") or []}, str(stores_path)).stores
    merged = settings.model_dump() | {"stores": [s.model_dump() for s in stores]}
    return parse_settings(merged, f"{path} + {stores_path.name}")


def _errors(exc: ValidationError, origin: str, prefix: tuple = ()) -> str:
    lines = []
    for err in exc.errors():
        loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{origin}: {_key_path(loc)}: {msg}")
    return "\n".join(lines)


def parse_plans(data: object, origin: str) -> list[CommissionPlan]:
    """A plan file's content: one plan (a mapping with ``plan_id``), or ``plans:`` a list of
    plans (e.g. the versions of one plan). Errors name the file and the key."""
    if isinstance(data, dict) and "plans" in data and "plan_id" not in data:
        if set(data) - {"plans"} or not isinstance(data["plans"], list):
            raise ConfigError(f"{origin}: expected `plans:` (a list of plans) and nothing else beside it")
        items, keyed = data["plans"], True
    elif isinstance(data, dict):
        items, keyed = [data], False
    else:
        raise ConfigError(f"{origin}: expected a plan (a mapping with plan_id, name, kind ...) or `plans:` a list")
    plans, problems = [], []
    for i, item in enumerate(items):
        try:
            plan = CommissionPlan.model_validate(item)
        except ValidationError as exc:
            problems.append(_errors(exc, origin, ("plans", i) if keyed else ()))
            continue
        plans.append(plan.model_copy(update={"origin": origin}))
    if problems:
        raise ConfigError("\n".join(problems))
    return plans


def load_plan_file(path: Path) -> list[CommissionPlan]:
    return parse_plans(_read_yaml(path), str(path))


def plan_paths(commission: Commission, root: Path) -> list[Path]:
    """The plan files a ``commission:`` section names: ``plan_files``, then ``plans_dir/*.yaml``."""
    paths = [root / f for f in commission.plan_files]
    if commission.plans_dir:
        folder = root / commission.plans_dir
        if not folder.is_dir():
            raise ConfigError(f"commission.plans_dir: {folder} is not a folder")
        paths += sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p not in paths)
    return paths


def with_plan_files(settings: Settings, root: Path, origin: str) -> Settings:
    """``settings`` with the plans of its plan files added to the inline ones, checked together
    (versions without gap or overlap, ``default_plan`` known)."""
    commission = settings.commission
    paths = plan_paths(commission, root)
    if not paths:
        return settings
    plans = list(commission.plans)
    for path in paths:
        plans.extend(load_plan_file(path))
    ids = list(dict.fromkeys(p.plan_id for p in plans))
    if commission.default_plan is not None and commission.default_plan not in ids:
        raise ConfigError(f"{origin}: commission.default_plan: {commission.default_plan!r} is not one of the plans {ids}")
    try:
        merged = Commission.model_validate(commission.model_dump(by_alias=True) | {"plans": [p.model_dump(by_alias=True) for p in plans]})
    except ValidationError as exc:
        files = ", ".join(sorted({p.origin or origin for p in plans}))
        raise ConfigError(_errors(exc, f"{origin} + {files}", ("commission",))) from None
    return settings.model_copy(update={"commission": merged})


def load_workspace(root: Path | str | None = None) -> Workspace:
    """The workspace at ``root`` (default: ``$YEJI_HOME`` or the current folder)."""
    root = Path(root or os.environ.get("YEJI_HOME") or ".").resolve()
    settings = load_settings(root / CONFIG_FILE)
    url = os.environ.get("YEJI_DATABASE_URL")
    if url:
        settings = settings.model_copy(update={"warehouse_url": url})
    return Workspace(root=root, settings=settings)


def warehouse_url(ws: Workspace) -> str:
    """The SQLAlchemy URL, with a relative SQLite path resolved inside the workspace."""
    url = ws.settings.warehouse_url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + str(ws.root / url[len(prefix):])
    return url
