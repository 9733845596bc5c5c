"""Final HTML -> PDF file with WeasyPrint, in this process or in a lean worker process.

This module imports only the standard library and WeasyPrint, so that it can also run as
a script: ``python -P reports/pdf_writer.py FD`` is the PDF worker that
:class:`reports.render.PdfWorkers` starts. Started that way, a worker needs 1.4-1.6 s of
CPU before its first PDF (WeasyPrint's import, fonts loaded, one tiny PDF) instead of the
3.3 s a ``multiprocessing`` spawn took, which re-imports the parent's ``__main__`` (the
``yeji`` command, Prefect) and, through ``reports/__init__``, pandas and all of ``reports``. ``-P`` keeps
this folder off ``sys.path``: ``reports/email.py`` must not shadow the standard library.

The worker speaks over one socket (a :class:`multiprocessing.connection.Connection`,
never stdout, which libraries may print to). It answers ``("ready", seconds)`` once
warm, then for each ``("pdf", html, path, face_css, stack)`` one
``("done", seconds, warnings)`` or ``("failed", error text)``; ``None`` ends it.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

STATIC = Path(__file__).resolve().with_name("static")
BASE_URL = str(STATIC) + os.sep
_WRITER: dict[str, object] = {}


def stylesheets(face_css: str, stack: str):
    """The print stylesheet and font rules with their FontConfiguration, built once per
    process for a given font setup (WeasyPrint loads fonts into the configuration)."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    key = face_css + "|" + stack
    if _WRITER.get("key") != key:
        font_config = FontConfiguration()
        base = (STATIC / "print.css").read_text("utf-8")
        fonts_css = f"{face_css}\nhtml, body {{ font-family: {stack}; }}\n@page {{ font-family: {stack}; }}\n"
        _WRITER.update(
            key=key,
            font_config=font_config,
            sheets=[CSS(string=fonts_css, font_config=font_config),
                    CSS(string=base, font_config=font_config, base_url=BASE_URL)],
        )
    return _WRITER["sheets"], _WRITER["font_config"]


def write_pdf(html: str, path: str | Path, face_css: str, stack: str) -> float:
    """Write one PDF: to a temporary file beside ``path``, then renamed (never half a PDF
    under the final name). Returns the seconds it took."""
    from weasyprint import HTML

    started = time.perf_counter()
    sheets, font_config = stylesheets(face_css, stack)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".pdf")
    os.close(fd)
    try:
        HTML(string=html, base_url=BASE_URL).write_pdf(tmp, stylesheets=sheets, font_config=font_config)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return time.perf_counter() - started


def warm_up(face_css: str, stack: str) -> None:
    """Load WeasyPrint, the stylesheets and the fonts (regular, bold, CJK) with one tiny PDF."""
    from weasyprint import HTML

    sheets, font_config = stylesheets(face_css, stack)
    HTML(string="<h1>业绩 Yeji</h1><p>周报 review ¥1,234.56 <b>本月佣金</b></p>", base_url=BASE_URL).write_pdf(
        stylesheets=sheets, font_config=font_config)


class _Collect(logging.Handler):
    """Keeps the warnings of the PDF being written, to be logged by the parent."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def serve(fd: int, face_css: str, stack: str) -> None:
    """The worker loop (see the module docstring). Ends quietly when the parent hangs up."""
    from multiprocessing.connection import Connection

    conn = Connection(fd)
    started = time.perf_counter()
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    warm_up(face_css, stack)
    collect.records.clear()
    try:
        conn.send(("ready", time.perf_counter() - started))
        while (message := conn.recv()) is not None:
            _kind, html, path, face, font_stack = message
            try:
                seconds = write_pdf(html, path, face, font_stack)
            except Exception as error:  # reported to the parent, which fails the batch naming the file
                conn.send(("failed", f"{type(error).__name__}: {error}"))
                continue
            finally:
                warnings, collect.records = collect.records, []
            conn.send(("done", seconds, warnings))
    except (EOFError, OSError):  # the parent closed its end or is gone: nothing left to do
        return


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2], sys.argv[3])
