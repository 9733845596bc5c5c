# Yeji — two commands set everything up on a fresh machine: `make demo` and `make test`.
VENV := .venv
BIN := $(VENV)/bin
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: demo test install bench lock clean

$(VENV)/.installed: requirements.lock pyproject.toml scripts/bootstrap.sh
	@scripts/bootstrap.sh

install: $(VENV)/.installed

demo: install  ## create ./demo (sample data, SQLite warehouse, config) and run every flow on it
	@$(BIN)/yeji demo --dir demo

test: install  ## the whole test suite (PostgreSQL cases run when YEJI_TEST_DATABASE_URL is set)
	@$(BIN)/python -m pytest -q

bench: install  ## benchmarks (not part of make test)
	@$(BIN)/python -m bench

lock:  ## re-resolve requirements.lock from pyproject.toml (needs `uv` on PATH)
	uv pip compile pyproject.toml build-requirements.in --extra test --extra bench --generate-hashes --python-version 3.11 -o requirements.lock

clean:
	rm -rf demo .pytest_cache .hypothesis
