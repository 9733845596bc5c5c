"""The report archive: every rendered PDF also written to a folder or fsspec URL, for finance.

Names are stable and safe: ``<period>/<kind>/<member or team id>.pdf`` (``all.pdf`` for a
report about everyone, like the finance summary), so a rerun replaces the same file and a
script can find a member's statement without reading anything else. Writing goes through
fsspec, so ``delivery.archive`` can be a local folder, ``file://``, ``s3://``, ``memory://``…
(whatever fsspec implementation is installed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import fsspec

from reports.context import safe_name
from reports.render import Rendered


def archive_name(item: Rendered) -> str:
    subject = item.member_id or item.team_id or "all"
    return f"{safe_name(item.period)}/{safe_name(item.report_kind)}/{safe_name(subject)}.pdf"


def archive_url(location: str, name: str) -> str:
    return location.rstrip("/") + "/" + name


def archive_reports(rendered: Sequence[Rendered], location: str) -> dict[Path, str]:
    """Write each distinct PDF under ``location``; returns {local PDF path: archived URL or path}.
    A PDF that is missing or empty is not archived (and is never sent either)."""
    written: dict[Path, str] = {}
    for item in rendered:
        path = Path(item.pdf_path)
        if path in written or not path.is_file() or path.stat().st_size == 0:
            continue
        url = archive_url(location, archive_name(item))
        fs, target = fsspec.core.url_to_fs(url)
        fs.makedirs(target.rpartition("/")[0], exist_ok=True)
        with fs.open(target, "wb") as handle:
            handle.write(path.read_bytes())
        written[path] = url
    return written


def copy_to_archive(paths: Sequence[Path], location: str, folder: str) -> list[str]:
    """Copy files (e.g. the payout export) into ``<location>/<folder>/`` under their own names."""
    urls = []
    for path in paths:
        url = archive_url(location, f"{folder}/{Path(path).name}")
        fs, target = fsspec.core.url_to_fs(url)
        fs.makedirs(target.rpartition("/")[0], exist_ok=True)
        with fs.open(target, "wb") as handle:
            handle.write(Path(path).read_bytes())
        urls.append(url)
    return urls
