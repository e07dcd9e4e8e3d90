"""Micro-benchmark of rxbatches' JSONL splitter and decoder (run by hand, not by tests).

    python -m bench.jsonl_micro [--lines 20000] [--repeat 5]

Reads the benchmark suite's deterministic results file (:func:`bench.data.results_file`:
90% succeeded lines with texts of 50 to 2,000 characters, the rest errored, canceled or
expired), cuts it into 1 KiB and 64 KiB chunks, and prints lines/s (best of
``--repeat`` runs, in-process, no network) for:

(a) split only: ``LineSplitter`` against the naive loop of the official SDK's decoder
    (``splitlines(keepends=True)`` and ``buf += line``);
(b) split + decode: ``JsonlDecoder`` (validated models), ``JsonlDictDecoder``
    (plain dicts by pydantic_core) and ``MsgspecDictDecoder`` (plain dicts by msgspec,
    the ``fast`` extra, when installed) against the same naive loop with
    ``json.loads`` + ``model_validate``,
    a bare chunked loop (``buf += chunk; buf.split(b"\\n")`` + ``model_validate_json``,
    what a hand-written aiohttp loop does), and the official SDK's own ``JSONLDecoder``
    (which builds its models without validating them);
(c) one 8 MiB line: our splitter, and the naive loop on 1 and 2 MiB to show its
    quadratic growth.

Ratios are what matter: absolute figures on a shared machine are noise.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from bench.data import results_file
from rxbatches import MessageBatchIndividualResponse
from rxbatches._base.fastjson import FAST_JSON, MsgspecDictDecoder
from rxbatches._base.jsonl import JsonlDecoder, JsonlDictDecoder, LineSplitter


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --------------------------------------------------------------------------- contenders


def ours_split(chunks: Iterable[bytes]) -> int:
    splitter = LineSplitter()
    n = 0
    for chunk in chunks:
        n += len(splitter.feed(chunk))
    return n + len(splitter.flush())


def ours_decode(chunks: Iterable[bytes]) -> int:
    decoder = JsonlDecoder(MessageBatchIndividualResponse)
    n = 0
    for chunk in chunks:
        n += len(decoder.feed(chunk))
    return n + len(decoder.flush())


def ours_dicts(chunks: Iterable[bytes]) -> int:
    return _count(JsonlDictDecoder(), chunks)


def ours_msgspec_dicts(chunks: Iterable[bytes]) -> int:
    return _count(MsgspecDictDecoder(), chunks)


def _count(decoder: JsonlDecoder[Any], chunks: Iterable[bytes]) -> int:
    n = 0
    for chunk in chunks:
        n += len(decoder.feed(chunk))
    return n + len(decoder.flush())


def naive_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The official SDK's JSONL loop (anthropic/_decoders/jsonl.py), without its parsing."""
    buf = b""
    for chunk in chunks:
        for line in chunk.splitlines(keepends=True):
            buf += line
            if buf.endswith((b"\r", b"\n", b"\r\n")):
                yield buf
                buf = b""
    if buf:
        yield buf


def naive_split(chunks: Iterable[bytes]) -> int:
    return sum(1 for _ in naive_lines(chunks))


def naive_decode(chunks: Iterable[bytes]) -> int:
    validate = MessageBatchIndividualResponse.model_validate
    n = 0
    for line in naive_lines(chunks):
        validate(json.loads(line))
        n += 1
    return n


def bare_decode(chunks: Iterable[bytes]) -> int:
    """A hand-written loop: append the chunk, split, keep the tail, model_validate_json."""
    validate = MessageBatchIndividualResponse.model_validate_json
    buf = b""
    n = 0
    for chunk in chunks:
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.strip():
                validate(line)
                n += 1
    if buf.strip():
        validate(buf)
        n += 1
    return n


def sdk_decode(chunks: Iterable[bytes]) -> int:
    from anthropic._decoders.jsonl import JSONLDecoder
    from anthropic.types.messages import MessageBatchIndividualResponse as SDKLine

    # The decoder only keeps http_response to close it; nothing here needs it.
    no_response: Any = None
    decoder = JSONLDecoder(raw_iterator=iter(chunks), line_type=SDKLine, http_response=no_response)
    return sum(1 for _ in decoder)


def best_of(
    repeat: int, fn: Callable[[list[bytes]], int], chunks: list[bytes]
) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        count = fn(chunks)
        best = min(best, time.perf_counter() - start)
    return best, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    data = results_file(args.lines).read_bytes()
    print(
        f"python {sys.version.split()[0]}, {args.lines:,} lines, {len(data) / 1e6:.1f} MB, "
        f"best of {args.repeat}"
    )
    contenders: list[tuple[str, str, Callable[[list[bytes]], int]]] = [
        ("a", "naive split (SDK loop)", naive_split),
        ("a", "LineSplitter", ours_split),
        ("b", "naive json.loads + model_validate", naive_decode),
        ("b", "official SDK JSONLDecoder (no validation)", sdk_decode),
        ("b", "bare chunked loop + model_validate_json", bare_decode),
        ("b", "JsonlDecoder(MessageBatchIndividualResponse)", ours_decode),
        ("b", "JsonlDictDecoder (plain dicts)", ours_dicts),
        ("b", "MsgspecDictDecoder (plain dicts, fast extra)", ours_msgspec_dicts),
    ]
    if not FAST_JSON:
        print("(msgspec not installed: the MsgspecDictDecoder row is skipped)")
        contenders = [c for c in contenders if c[2] is not ours_msgspec_dicts]
    try:
        import anthropic  # noqa: F401
    except ImportError:
        print("(anthropic not installed: the official SDK row is skipped)")
        contenders = [c for c in contenders if c[2] is not sdk_decode]

    header = (
        f"{'':3}{'contender':46}{'chunk':>7}{'lines/s':>13}{'MB/s':>8}{'vs naive':>10}{'vs SDK':>8}"
    )
    print(header)
    print("-" * len(header))
    for size in (1024, 65536):
        chunks = chunked(data, size)
        naive: dict[str, float] = {}
        sdk = 0.0
        for part, name, fn in contenders:
            seconds, count = best_of(args.repeat, fn, chunks)
            assert count == args.lines, (name, count)
            rate = count / seconds
            naive.setdefault(part, rate)
            if fn is sdk_decode:
                sdk = rate
            versus_sdk = f"{rate / sdk:>7.1f}x" if part == "b" and sdk else ""
            print(
                f"({part}){name:46}{size // 1024:>5}Ki{rate:>13,.0f}"
                f"{len(data) / seconds / 1e6:>8.0f}{rate / naive[part]:>9.1f}x{versus_sdk}"
            )
        print()

    print("(c) one long line, 1 KiB chunks (seconds, best of 3)")
    for mib in (1, 2, 8):
        line = b'{"pad":"' + b"x" * (mib * 2**20) + b'"}\n'
        chunks = chunked(line, 1024)
        ours, _ = best_of(3, ours_split, chunks)
        text = f"    {mib} MiB: LineSplitter {ours:.4f} s"
        if mib <= 2:
            theirs, _ = best_of(1, naive_split, chunks)
            text += f", naive SDK loop {theirs:.4f} s ({theirs / ours:,.0f}x slower)"
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
