#!/usr/bin/env bash
# Regenerate the single initial migration from warehouse/models.py (allowed only while no
# release has shipped a database; afterwards, add a new revision instead).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f warehouse/migrations/versions/0001_initial_warehouse.py
tmp=$(mktemp -d)
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from alembic.config import Config
from warehouse.db import MIGRATIONS, make_engine
engine = make_engine(f"sqlite:///{sys.argv[1]}/m.db")
cfg = Config(); cfg.set_main_option("script_location", str(MIGRATIONS))
with engine.begin() as conn:
    cfg.attributes["connection"] = conn
    command.revision(cfg, message="initial warehouse", autogenerate=True, rev_id="0001")
PY
rm -rf "$tmp"
