#!/usr/bin/env bash
# Regenerate the pending migration from warehouse/models.py: everything the models have that
# the landed revisions (up to BASE) do not. Until PENDING lands, rerun this after every model
# change; once it has landed, move BASE and PENDING on by one instead of editing it.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=0003
PENDING=0004
rm -f warehouse/migrations/versions/${PENDING}_*.py
tmp=$(mktemp -d)
.venv/bin/python - "$tmp" "$BASE" "$PENDING" <<'PY'
import sys
from alembic import command
from alembic.config import Config
from warehouse.db import MIGRATIONS, make_engine
engine = make_engine(f"sqlite:///{sys.argv[1]}/m.db")
cfg = Config(); cfg.set_main_option("script_location", str(MIGRATIONS))
with engine.begin() as conn:
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, sys.argv[2])
    command.revision(cfg, message="pending changes", autogenerate=True, rev_id=sys.argv[3])
PY
rm -rf "$tmp"
ls warehouse/migrations/versions/
