"""What the command line prints: batches for people or as JSON, tables, error lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rxbatches import (
    APIConnectionError,
    APIStatusError,
    CreateValidationError,
    DeletedMessageBatch,
    MessageBatch,
)

__all__ = ["batch_lines", "describe_error", "dumps", "redact", "table"]


def dumps(value: Any) -> str:
    """Serialize to one line of JSON (what ``--json`` and JSONL output use)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds").replace("+00:00", "Z")


def counts_text(batch: MessageBatch) -> str:
    """``3,000 requests: 2,850 succeeded, 150 errored`` (zero counts left out)."""
    counts = batch.request_counts
    parts = [
        f"{value:,} {name}"
        for name, value in (
            ("processing", counts.processing),
            ("succeeded", counts.succeeded),
            ("errored", counts.errored),
            ("canceled", counts.canceled),
            ("expired", counts.expired),
        )
        if value
    ]
    noun = "request" if counts.total == 1 else "requests"
    return f"{counts.total:,} {noun}" + (": " + ", ".join(parts) if parts else "")


def batch_lines(batch: MessageBatch | DeletedMessageBatch) -> list[str]:
    """A batch as a few ``key: value`` lines for people."""
    if isinstance(batch, DeletedMessageBatch):
        return [f"deleted {batch.id}"]
    lines = [
        f"id:       {batch.id}",
        f"status:   {batch.processing_status}",
        f"counts:   {counts_text(batch)}",
        f"created:  {_when(batch.created_at)}",
        f"expires:  {_when(batch.expires_at)}",
    ]
    if batch.cancel_initiated_at is not None:
        lines.append(f"cancel:   {_when(batch.cancel_initiated_at)}")
    if batch.ended_at is not None:
        lines.append(f"ended:    {_when(batch.ended_at)}")
    if batch.results_url:
        lines.append(f"results:  {batch.results_url}")
    return lines


def list_row(batch: MessageBatch) -> list[str]:
    """A batch as one row of the ``list`` table."""
    return [batch.id, batch.processing_status, counts_text(batch), _when(batch.created_at)]


def table(rows: Sequence[Sequence[str]], *, header: Sequence[str] | None = None) -> list[str]:
    """Left-aligned columns (numbers right-aligned), two spaces apart."""
    all_rows = [list(header)] if header else []
    all_rows += [list(r) for r in rows]
    if not all_rows:
        return []
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(all_rows[0]))]
    lines = []
    for row in all_rows:
        cells = [
            cell.rjust(width) if _numeric(cell) else cell.ljust(width)
            for cell, width in zip(row, widths, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _numeric(cell: str) -> bool:
    stripped = cell.replace(",", "").replace(".", "").replace("%", "").rstrip("s/")
    return bool(stripped) and stripped.isdigit()


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret in ``text`` (a belt to the client's braces)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


def describe_error(error: BaseException) -> str:
    """One line saying what went wrong, without a traceback."""
    if isinstance(error, CreateValidationError):
        return f"invalid request: {error.field}: {error.rule}"
    if isinstance(error, APIStatusError):
        kind = f" {error.error_type}" if error.error_type else ""
        rid = f" (request-id {error.request_id})" if error.request_id else ""
        return f"{error.status_code}{kind}: {error.message}{rid}"
    if isinstance(error, APIConnectionError):
        return str(error)  # already names the method, the URL and the cause
    message = str(error).strip().splitlines()
    text = message[0] if message else ""
    return text or type(error).__name__
