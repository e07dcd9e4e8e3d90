"""Requests, result lines and checks shared by the durable job tests."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from rxbatches._jobs.lines import attempt
from rxbatches._jobs.store import Attempt, JobStore

MODEL = "claude-haiku-4-5"


def requests(count: int, start: int = 0, prefix: str = "r") -> list[dict[str, Any]]:
    """``count`` small requests with ids ``{prefix}{start}`` onwards."""
    return [
        {
            "custom_id": f"{prefix}{i}",
            "params": {
                "model": MODEL,
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"question {i}"}],
            },
        }
        for i in range(start, start + count)
    ]


def write_jsonl(path: Any, items: Iterable[dict[str, Any]]) -> None:
    """Write ``items`` as a JSONL file."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(item) + "\n" for item in items)


def id_counts(lines: Iterable[bytes | str]) -> Counter[str]:
    """How many times each custom_id appears among result lines."""
    return Counter(json.loads(line)["custom_id"] for line in lines)


def result_line(
    custom_id: str,
    kind: str,
    error_type: str | None = None,
    *,
    model: str = MODEL,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A results line's object: ``kind`` (with its error or its message), for ``custom_id``."""
    result: dict[str, Any] = {"type": kind}
    if kind == "errored":
        result["error"] = {"type": "error", "error": {"type": error_type, "message": "x"}}
    if kind == "succeeded":
        result["message"] = {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "usage": usage or {"input_tokens": 3, "output_tokens": 5, "cache_read_input_tokens": 7},
        }
    return {"custom_id": custom_id, "result": result}


def stored_attempt(
    custom_id: str, kind: str, error_type: str | None = None, **fields: Any
) -> Attempt:
    """:func:`result_line` as the row a store keeps of it."""
    parsed = result_line(custom_id, kind, error_type, **fields)
    return attempt(custom_id, json.dumps(parsed).encode(), parsed)


def created_batch(store: JobStore, batch_id: str, size: int) -> tuple[int, list[str]]:
    """The next ``size`` pending requests reserved as batch ``batch_id``: its key and ids."""
    reserved = store.reserve(size, 10_000_000)
    assert reserved is not None
    intent, body = reserved
    store.record_created(intent.key, batch_id, "{}", False)
    return intent.key, [r["custom_id"] for r in json.loads(body)["requests"]]
