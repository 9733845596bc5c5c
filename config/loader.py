"""Load ``yeji.yaml`` into :class:`config.models.Settings`, with errors that name file and key."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from config.models import Settings, Workspace

CONFIG_FILE = "yeji.yaml"
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


def load_settings(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (run `yeji init` or `yeji demo` to create a workspace)") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}:{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_settings(data, str(path))


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
