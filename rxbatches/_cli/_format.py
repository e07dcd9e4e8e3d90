"""What the command line prints: batches for people or as JSON, tables, error lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Any

from rxbatches import (
    APIStatusError,
    CreateOutcomeUnknownError,
    CreateValidationError,
    DeletedMessageBatch,
    MessageBatch,
)

__all__ = ["batch_lines", "describe_error", "dumps", "redact", "status_summary", "table"]


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


_KEY_CHARS = "A-Za-z0-9_-"
_ALWAYS_MASKED_LENGTH = 16


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Mask every secret in ``text`` (a belt to the client's braces).

    A secret is masked as a token: where it is not part of a longer run of key
    characters (``[A-Za-z0-9_-]``), so ``key`` in a URL, a header or a JSON string is
    masked but the ``loo`` of ``loop`` is left alone when the key is ``loo``. A secret of
    16 characters or more cannot be part of an ordinary word: it is masked wherever it
    appears, even run into other key characters.
    """
    for secret in secrets:
        if not secret:
            continue
        if len(secret) >= _ALWAYS_MASKED_LENGTH:
            text = text.replace(secret, "<redacted>")
        else:
            pattern = f"(?<![{_KEY_CHARS}]){re.escape(secret)}(?![{_KEY_CHARS}])"
            text = re.sub(pattern, "<redacted>", text)
    return text


_MAX_SUMMARY = 400  # characters of an API message kept in the summary line


def describe_error(error: BaseException) -> tuple[str, list[str]]:
    """What went wrong: one summary line, and the lines of guidance the error carries.

    Never a traceback, never a page of HTML: a body that is not the API's JSON error
    is described (``502 Bad Gateway: an HTML page, probably from a proxy``), not shown.
    """
    if isinstance(error, CreateValidationError):
        return f"invalid request: {error.field}: {error.rule}", []
    if isinstance(error, CreateOutcomeUnknownError):
        return _create_outcome_unknown(error)
    if isinstance(error, APIStatusError):
        return status_summary(error), []
    message = str(error).strip().splitlines()
    text = _one_line(message[0]) if message else ""
    return text or type(error).__name__, []


def _create_outcome_unknown(error: CreateOutcomeUnknownError) -> tuple[str, list[str]]:
    cause, _ = describe_error(error.cause)
    sent = error.sent_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    holding = f" holding {error.request_count:,} requests" if error.request_count else ""
    return f"the create may or may not have made a batch ({cause})", [
        "Do not simply retry: that could make a second batch, and cost twice.",
        f"First look for a batch created at or after {sent}{holding}:",
        "    rxbatches list --limit 20",
        "and create it again only if there is none.",
    ]


def status_summary(error: APIStatusError) -> str:
    """A non-2xx answer in one line: its status, kind and message, or what its body was."""
    code = error.status_code
    rid = f" (request-id {error.request_id})" if error.request_id else ""
    body = error.body
    envelope = body.get("error") if isinstance(body, dict) else None
    if 300 <= code < 400 or isinstance(envelope, dict):
        # The library's own words (a redirect), or the API's error message.
        kind = f" {error.error_type}" if error.error_type else ""
        return f"{code}{kind}: {_one_line(error.message)}{rid}"
    head = f"{code} {_reason(code)}".rstrip()
    if isinstance(body, str) and body.strip():
        if _is_html(body, error.headers):
            what = "an HTML page, probably from a proxy"
        else:
            kind = _header(error.headers, "content-type") or "no content-type"
            size = len(body.encode("utf-8", "replace"))
            what = f"a non-JSON answer ({kind.split(';')[0]}, {size:,} bytes), not the API's"
    elif body is None or (isinstance(body, str) and not body.strip()):
        what = "an empty answer"
    else:
        what = "a JSON answer that is not the API's error format"
    return f"{head}: {what}{rid}"


def _reason(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _is_html(body: str, headers: Mapping[str, str]) -> bool:
    if "html" in (_header(headers, "content-type") or "").lower():
        return True
    start = body.lstrip()[:200].lower()
    return start.startswith(("<!doctype html", "<html", "<head", "<body", "<?xml"))


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SUMMARY else text[: _MAX_SUMMARY - 3] + "..."
