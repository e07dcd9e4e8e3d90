"""Requests and checks shared by the durable job tests."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

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
