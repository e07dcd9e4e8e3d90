"""Deterministic benchmark data: results files and a create requests file.

Files are written once under a cache directory (``RXBATCHES_BENCH_DATA`` or the
system temp dir) and reused while their name (which encodes every parameter) exists.

- ``results_file(n)``: ``n`` result lines, 90% ``succeeded`` with texts of 50 to
  2,000 characters (ASCII, non-ASCII and characters JSON escapes), the rest
  ``errored`` / ``canceled`` / ``expired`` in turn; 100,000 lines make about 130 MB.
- ``long_line_file(mib)``: one ``succeeded`` line whose text is ``mib`` MiB.
- ``requests_file(n)``: ``n`` create requests (``{"custom_id", "params"}``), about
  1.4 KB each, so 100,000 make a create body of about 140 MB.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "data_dir",
    "long_line_file",
    "request_dicts",
    "requests_file",
    "results_counts",
    "results_file",
]

_PLAIN = (
    "the of and to in is that for it as with was on be by this are from at or an have not "
    "but which data model batch result stream token reactive line"
)
WORDS = [*_PLAIN.split(), "café", "naïve", "数据", '"quoted"', "tab\tsplit", "new\nline", "a\\b"]
_SEED = 6


def data_dir() -> Path:
    """The cache directory of generated files (created if missing)."""
    root = os.environ.get("RXBATCHES_BENCH_DATA") or os.path.join(
        tempfile.gettempdir(), "rxbatches-bench"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _corpus(rng: random.Random, size: int = 1 << 20) -> str:
    """A long text of random words; texts are slices of it (fast to generate)."""
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def _succeeded(i: int, text: str, rng: random.Random) -> dict[str, Any]:
    return {
        "custom_id": f"request-{i:06d}",
        "result": {
            "type": "succeeded",
            "message": {
                "id": f"msg_{rng.getrandbits(96):024x}",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": rng.randint(10, 500),
                    "output_tokens": rng.randint(10, 600),
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "service_tier": "batch",
                },
            },
        },
    }


def _other(i: int, kind: str, rng: random.Random) -> dict[str, Any]:
    result: dict[str, Any] = {"type": kind}
    if kind == "errored":
        result["error"] = {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "max_tokens: too large"},
            "request_id": f"req_{rng.getrandbits(96):024x}",
        }
    return {"custom_id": f"request-{i:06d}", "result": result}


def _dump(line: dict[str, Any]) -> bytes:
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def plain_requests(n: int) -> Iterator[dict[str, Any]]:
    """The create requests ``r0`` .. ``r{n-1}`` that :func:`plain_succeeded_line` answers."""
    for i in range(n):
        yield {
            "custom_id": f"r{i}",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": "q"}],
            },
        }


def plain_succeeded_line(i: int, text: str) -> bytes:
    """The results line (no newline) of request ``r{i}`` succeeding with ``text``: small,
    fixed and quick to make, for benchmarks that need many results rather than varied ones.
    """
    result = {
        "custom_id": f"r{i}",
        "result": {
            "type": "succeeded",
            "message": {
                "id": f"msg_{i}",
                "type": "message",
                "role": "assistant",
                "model": "claude-haiku-4-5",
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 12, "output_tokens": 40},
            },
        },
    }
    return json.dumps(result, separators=(",", ":")).encode()


def results_file(n: int) -> Path:
    """Return the path of the ``n``-line results file, generating it if needed."""
    path = data_dir() / f"results-{n}-s{_SEED}.jsonl"
    if path.exists():
        return path
    rng = random.Random(_SEED)
    corpus = _corpus(rng)
    others = ("errored", "canceled", "expired")
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for i in range(n):
            if i % 10 == 9:
                out.write(_dump(_other(i, others[(i // 10) % 3], rng)))
                continue
            size = rng.randint(50, 2000)
            start = rng.randrange(len(corpus) - size)
            out.write(_dump(_succeeded(i, corpus[start : start + size], rng)))
    tmp.replace(path)
    return path


def results_counts(n: int) -> dict[str, int]:
    """The request counts of :func:`results_file` ``(n)``, without reading it."""
    counts = {"succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    others = ("errored", "canceled", "expired")
    for i in range(n):
        counts[others[(i // 10) % 3] if i % 10 == 9 else "succeeded"] += 1
    return counts


def long_line_file(mib: int) -> Path:
    """Return the path of a one-line results file whose text is ``mib`` MiB."""
    path = data_dir() / f"long-{mib}mib-s{_SEED}.jsonl"
    if path.exists():
        return path
    rng = random.Random(_SEED)
    corpus = _corpus(rng)
    text = (corpus * (mib * (1 << 20) // len(corpus) + 1))[: mib << 20]
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(_dump(_succeeded(0, text, rng)))
    tmp.replace(path)
    return path


def request_dicts(n: int) -> list[dict[str, Any]]:
    """``n`` create requests as dicts, about 1.4 KB each once encoded."""
    return list(iter_request_dicts(n))


def iter_request_dicts(n: int) -> Iterator[dict[str, Any]]:
    """The requests of :func:`request_dicts`, made one at a time (a generator)."""
    rng = random.Random(_SEED)
    corpus = _corpus(rng)
    for i in range(n):
        size = rng.randint(700, 1600)
        start = rng.randrange(len(corpus) - size)
        yield {
            "custom_id": f"request-{i:06d}",
            "params": {
                "model": "claude-sonnet-4-5-20250929",
                "max_tokens": 1024,
                "messages": [{"role": "user", "content": corpus[start : start + size]}],
            },
        }


def requests_file(n: int) -> Path:
    """Return the path of the ``n``-request JSONL file (the lines of :func:`request_dicts`)."""
    path = data_dir() / f"requests-{n}-s{_SEED}.jsonl"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for request in request_dicts(n):
            out.write(_dump(request))
    tmp.replace(path)
    return path
