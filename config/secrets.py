"""Secrets named in the configuration: read when needed, never stored in YAML, logs or reports."""

from __future__ import annotations


def secret_block_value(block: str, what: str) -> str:
    """The value of the Prefect Secret block ``block`` (on the Prefect API the process talks to).

    Raises LookupError naming the block, ``what`` it holds and the kind of failure, never the value."""
    try:
        from prefect.blocks.system import Secret

        return str(Secret.load(block).get())
    except Exception as exc:  # noqa: BLE001 - any failure to read the block means the secret is missing
        raise LookupError(f"cannot read Prefect Secret block {block!r} for {what}: {type(exc).__name__}") from None
