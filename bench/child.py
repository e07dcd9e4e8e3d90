"""One benchmark contender, run in its own process so its peak RSS is its own; and
:func:`run_child`, how every benchmark runs a measured phase in a process of its own.

    python -m bench.child <contender> --url URL --batch ID [--lines N]

Prints one JSON object on stdout: ``items``, ``bytes``, ``seconds`` (wall time of the
measured part), ``cpu`` (process CPU seconds of it), ``rss0`` (RSS in bytes just before
it) and ``maxrss`` (peak RSS of the whole process, bytes). Contenders are listed in
:data:`CONTENDERS`.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
"""The checkout: the children run from it, so ``bench`` and ``tests`` import."""

API_KEY = "sk-bench"
HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}

Measure = Callable[[argparse.Namespace], Coroutine[Any, Any, tuple[int, int]]]
"""A contender: runs the measured work, returns (items, bytes)."""


def run_child(module: str, *args: str, timeout: float = 600) -> dict[str, Any]:
    """Run ``python -m module args`` from the checkout; the JSON object it prints last.

    Its wall time is added as ``wall``. Every measured phase of the benchmarks runs
    this way, in a fresh process, so that its peak memory and heap are its own.

    Raises:
        RuntimeError: The child failed (its stderr's end is quoted).
    """
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["wall"] = time.perf_counter() - started
    return report


def current_rss() -> int:
    """The resident set size of this process now, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def peak_rss() -> int:
    """The peak resident set size of this process so far, in bytes.

    ``VmHWM`` rather than ``getrusage().ru_maxrss``: the latter survives ``exec`` and so
    reports the parent's size at fork when that was larger (the runner's, here).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _results_path(args: argparse.Namespace) -> str:
    return f"{args.url}/v1/messages/batches/{args.batch}/results"


# --------------------------------------------------------------------------- results


def _text_length(item: Any) -> int:
    """What every model contender reads of a result (ours and the SDK's have one shape)."""
    result = item.result
    return len(result.message.content[0].text) if result.type == "succeeded" else 0


async def rx_models(args: argparse.Namespace, **kwargs: Any) -> tuple[int, int]:
    """rxbatches ``results_streaming``: validated models through the Observable."""
    from rxbatches import Client

    async with Client(api_key=API_KEY, base_url=args.url, max_retries=0) as client:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        count = 0
        text = 0

        def on_next(item: Any) -> None:
            nonlocal count, text
            count += 1
            text += _text_length(item)

        client.messages.batches.results_streaming(args.batch, **kwargs).subscribe(
            on_next,
            lambda exc: done.set_exception(exc),
            lambda: done.set_result(None),
        )
        await done
    return count, 0


async def rx_models_noresume(args: argparse.Namespace) -> tuple[int, int]:
    """``results_streaming(max_resumes=0)``: no set of delivered ``custom_id`` values."""
    from rxbatches import BatchService

    if "max_resumes" not in inspect.signature(BatchService.results_streaming).parameters:
        return await rx_models(args)  # a client without resumes keeps no such set anyway
    return await rx_models(args, max_resumes=0)


async def rx_dicts(args: argparse.Namespace) -> tuple[int, int]:
    """rxbatches ``results_streaming_dicts``: the opt-in fast path, dicts through the Observable."""
    from rxbatches import Client

    async with Client(api_key=API_KEY, base_url=args.url, max_retries=0) as client:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        count = 0
        text = 0

        def on_next(item: Any) -> None:
            nonlocal count, text
            count += 1
            result = item["result"]
            if result["type"] == "succeeded":
                text += len(result["message"]["content"][0]["text"])

        client.messages.batches.results_streaming_dicts(args.batch).subscribe(
            on_next,
            lambda exc: done.set_exception(exc),
            lambda: done.set_result(None),
        )
        await done
    return count, 0


async def rx_dicts_pydantic(args: argparse.Namespace) -> tuple[int, int]:
    """``results_streaming_dicts`` without the ``fast`` extra (msgspec hidden: see main)."""
    from rxbatches._base.fastjson import FAST_JSON

    if FAST_JSON:
        raise RuntimeError("msgspec was not hidden from this contender")
    return await rx_dicts(args)


async def dict_bound(args: argparse.Namespace) -> tuple[int, int]:
    """The bound of the dict fast path: rxbatches' HTTP layer + its dict decoder, no Rx."""
    from rxbatches._base.fastjson import dict_decoder
    from rxbatches._base.options import ClientOptions
    from rxbatches._rx.runtime import Runtimes
    from rxbatches._transport.http import HTTPClient

    options = ClientOptions.from_env(api_key=API_KEY, base_url=args.url, max_retries=0)
    runtimes = Runtimes()
    http = HTTPClient(options, runtimes)
    count = 0
    size = 0
    try:
        decoder = dict_decoder()
        path = f"/v1/messages/batches/{args.batch}/results"
        async with http.stream("GET", path, options=options.effective(None)) as response:
            async for chunk in response.chunks():
                size += len(chunk)
                count += len(decoder.feed(chunk))
        count += len(decoder.flush())
    finally:
        await runtimes.aclose()
    return count, size


async def sdk_async(args: argparse.Namespace) -> tuple[int, int]:
    """The official SDK, ``AsyncAnthropic().messages.batches.results(id)``."""
    import anthropic

    count = 0
    text = 0
    async with anthropic.AsyncAnthropic(api_key=API_KEY, base_url=args.url, max_retries=0) as sdk:
        async for item in await sdk.messages.batches.results(args.batch):
            count += 1
            text += _text_length(item)
    return count, 0


async def sdk_sync(args: argparse.Namespace) -> tuple[int, int]:
    """The official SDK, ``Anthropic().messages.batches.results(id)`` (blocking)."""
    import anthropic

    def run() -> int:
        count = 0
        text = 0
        with anthropic.Anthropic(api_key=API_KEY, base_url=args.url, max_retries=0) as sdk:
            for item in sdk.messages.batches.results(args.batch):
                count += 1
                text += _text_length(item)
        return count

    return run(), 0


async def _bare(
    args: argparse.Namespace, validate: Callable[[bytes], object] | None
) -> tuple[int, int]:
    import aiohttp

    count = 0
    size = 0
    async with (
        aiohttp.ClientSession() as session,
        session.get(_results_path(args), headers=HEADERS) as response,
    ):
        response.raise_for_status()
        buf = b""
        async for chunk in response.content.iter_any():
            size += len(chunk)
            *lines, buf = (buf + chunk).split(b"\n")
            for line in lines:
                if line:
                    if validate is not None:
                        validate(line)
                    count += 1
        if buf.strip():
            if validate is not None:
                validate(buf)
            count += 1
    return count, size


async def bare_split(args: argparse.Namespace) -> tuple[int, int]:
    """aiohttp download + own line split: the raw limit."""
    return await _bare(args, None)


async def bare_pydantic(args: argparse.Namespace) -> tuple[int, int]:
    """aiohttp + split + ``MessageBatchIndividualResponse.model_validate_json``, no Rx."""
    from rxbatches import MessageBatchIndividualResponse

    return await _bare(args, MessageBatchIndividualResponse.model_validate_json)


CONTENDERS: dict[str, Measure] = {
    "rx_models": rx_models,
    "rx_models_noresume": rx_models_noresume,
    "rx_dicts": rx_dicts,
    "rx_dicts_pydantic": rx_dicts_pydantic,
    "dict_bound": dict_bound,
    "sdk_async": sdk_async,
    "sdk_sync": sdk_sync,
    "bare_split": bare_split,
    "bare_pydantic": bare_pydantic,
}


def _import_all(name: str) -> None:
    """Import what a contender needs before measuring, so imports are not timed."""
    import aiohttp  # noqa: F401
    import pydantic  # noqa: F401

    if name.startswith("sdk"):
        import anthropic  # noqa: F401
    else:
        import rxbatches  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("contender", choices=sorted(CONTENDERS))
    parser.add_argument("--url", required=True)
    parser.add_argument("--batch", required=True)
    parser.add_argument("--bytes", type=int, default=0, help="size of the file (for MB/s)")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the fastest is reported")
    args = parser.parse_args(argv)
    if args.contender == "rx_dicts_pydantic":
        sys.modules["msgspec"] = None  # type: ignore[assignment]  # as if not installed
    _import_all(args.contender)
    measure = CONTENDERS[args.contender]
    rss0 = current_rss()
    best = (float("inf"), 0.0)
    for _ in range(args.repeat):
        cpu0 = time.process_time()
        start = time.perf_counter()
        items, size = asyncio.run(measure(args))
        best = min(best, (time.perf_counter() - start, time.process_time() - cpu0))
    report = {
        "items": items,
        "bytes": size or args.bytes,
        "seconds": best[0],
        "cpu": best[1],
        "rss0": rss0,
        "maxrss": peak_rss(),
    }
    json.dump(report, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
