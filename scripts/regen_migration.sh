#!/usr/bin/env bash
# Regenerate the pending migration 0002 from warehouse/models.py: everything the models
# have that revision 0001 (the landed schema) does not. Until 0002 lands, rerun this after
# every model change; once it has landed, add a new revision instead of editing it.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f warehouse/migrations/versions/0002_*.py
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
    command.upgrade(cfg, "0001")
    command.revision(cfg, message="pending changes", autogenerate=True, rev_id="0002")
PY
rm -rf "$tmp"
ls warehouse/migrations/versions/
