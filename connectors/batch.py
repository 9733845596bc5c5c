"""What a connector hands the warehouse, and what it needs to know from it.

These are plain data (pandas only), the contract between :mod:`connectors`
(which reads files into frames) and :mod:`warehouse.loads` (which writes them):

* :class:`KnownRefs` - ids already in the warehouse that rows may refer to;
* :class:`IngestBatch` - warehouse-shaped frames, the rejected rows and the counts;
* :class:`IngestError` - a whole-file problem (nothing from that file is loaded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd


class IngestError(Exception):
    """A problem with a whole file (missing column, unreadable file, bad mapping), phrased for the admin."""


@dataclass(frozen=True)
class KnownRefs:
    """Ids rows may refer to, as the warehouse holds them before the load."""

    member_ids: frozenset[str] = frozenset()
    team_ids: frozenset[str] = frozenset()
    customer_owners: Mapping[str, str | None] = field(default_factory=dict)  # customer_id -> owner_member_id
    order_currencies: Mapping[str, str] = field(default_factory=dict)  # order_id -> currency (one order source)


@dataclass(frozen=True)
class IngestBatch:
    """One file read into warehouse-shaped frames.

    ``frames`` maps a warehouse table name to rows ready for
    :func:`warehouse.db.upsert_frame`. ``rejects`` has the columns of
    :data:`transforms.schema.REJECTS`, one row per problem (a row with two bad
    cells has two); ``rows_rejected`` counts spreadsheet rows, so
    ``rows_read == rows_loaded + rows_rejected`` always holds.
    """

    source: str
    kind: str
    location: str
    frames: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    rows_read: int
    rows_rejected: int
    # tables whose records here are only discovered, not declared (customers seen in
    # sales lines): they never overwrite a record another source loaded
    derived_tables: frozenset[str] = frozenset()
    # order_lines holds every line of its orders: lines numbered past them are stale
    whole_orders: bool = False
    unattributed: int = 0  # orders and refunds no attribution rule gave a member

    @property
    def rows_loaded(self) -> int:
        return self.rows_read - self.rows_rejected
