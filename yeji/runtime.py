"""Process-wide settings for running flows from the command line: quiet Prefect, no telemetry.

Must run before Prefect is imported: Prefect reads its settings at import time.
"""

from __future__ import annotations

import logging
import os
import warnings


def quiet_prefect(verbose: bool = False) -> None:
    """No telemetry; Prefect's console stays quiet (the API and its UI still get every log).

    When the process starts Prefect's ephemeral server, that server's own logs are
    silenced too: it prints 'Error flushing ... events' tracebacks while it shuts
    down, which are not the user's business.
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_CLI_PROMPT", "false")
    # Prefect gives its ephemeral server 20 s to start; on a busy 2-core machine (or a first run,
    # which creates its database) that was seen to run out, failing `make demo` before any work.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if verbose:
        return
    # Failures reach the user through yeji's own summary (and the Prefect UI), not as tracebacks.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
        os.environ.setdefault("PREFECT_LOGGING_INTERNAL_LEVEL", "CRITICAL")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module="prefect")
    for name in ("fontTools", "weasyprint", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
