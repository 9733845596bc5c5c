"""What every store stream is: pages of platform records over a window, and a pure parser.

A :class:`Stream` is the small interface between the sync engine and a platform:

* :meth:`Stream.pages` reads the records changed in a half-open :class:`Window`,
  starting at a page token (None = the window's first page) and yields :class:`Page`
  objects whose ``next_token`` resumes *after* that page (None = window done);
* :meth:`Stream.parse_page` turns a page into :class:`Parsed` rows and per-record
  rejects; it does no I/O.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterator

from config.models import STORE_CREDENTIALS, Settings, StoreSource
from config.secrets import secret_block_value
from connectors.stores.http import StoreError, Window
from connectors.stores.records import Parsed, Reader, RecordError


class MissingCredential(StoreError):
    """A credential the store needs is not in the environment (or its Secret block)."""


@dataclass(frozen=True)
class Page:
    records: list[Any]
    next_token: str | None
    location: str  # what was read, for rejects and messages (never a credential)


class Stream:
    """One stream (``orders``, ``finances``) of one store."""

    name = "orders"
    max_window: timedelta | None = None  # the longest window the platform answers in full (None: any)

    def __init__(self, store: StoreSource, settings: Settings):
        self.store = store
        self.reader = Reader(frozenset(c.upper() for c in settings.currencies))

    # --- I/O
    def pages(self, window: Window, token: str | None) -> Iterator[Page]:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- pure
    def record_key(self, record: Any) -> str | None:
        return None

    def changed_at(self, record: dict) -> datetime | None:
        """When the platform last changed ``record`` (for the client-side half-open filter)."""
        return None

    def parse_record(self, record: dict, parsed: Parsed) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse_page(self, page: Page, window: Window) -> Parsed:
        parsed = Parsed()
        for position, record in enumerate(page.records, start=1):
            try:
                key = self.record_key(record) if isinstance(record, dict) else None
            except RecordError:
                key = None
            try:
                if not isinstance(record, dict):
                    raise RecordError(None, f"malformed record: expected a JSON object, got {type(record).__name__}")
                changed = self.changed_at(record)
                if changed is not None and changed not in window:
                    continue  # another window's (servers' bounds are inclusive; ours are half-open)
                parsed.records += 1
                if key:
                    parsed.keys.append(key)
                mark = parsed.mark()
                try:
                    self.parse_record(record, parsed)
                except RecordError:
                    parsed.rollback(mark)  # a bad record leaves nothing behind, not even its first rows
                    raise
            except RecordError as error:
                if not isinstance(record, dict):
                    parsed.records += 1
                parsed.rejected += 1
                parsed.reject(self.store.name, self.name, page.location, position, key, error, record)
        return parsed


def credentials(store: StoreSource) -> dict[str, str]:
    """The store's credentials, from Prefect Secret blocks where named, else environment variables."""
    out = {}
    for name in STORE_CREDENTIALS[store.platform]:
        block = store.secret_blocks.get(name)
        if block:
            try:
                out[name] = secret_block_value(block, name)
            except LookupError as exc:
                raise MissingCredential(f"store {store.name}: {exc}") from None
            continue
        env = store.credential_env(name)
        value = os.environ.get(env, "").strip()
        if not value:
            raise MissingCredential(
                f"store {store.name}: environment variable {env} is not set (the {store.platform} {name.replace('_', ' ')})"
            )
        out[name] = value
    return out
