"""The benchmark runner: one emulator, every contender in its own process, one table.

    python -m bench [--quick] [--out bench/results/latest.md]

Starts the emulators in this process (:class:`~rxbatches.emulator.EmulatorThread`),
seeds them with the files of :mod:`bench.data` (served verbatim, read from disk on each
download), runs each contender as a child process (:mod:`bench.child`,
:mod:`bench.rx_overhead`, :mod:`bench.scale`) that connects over HTTP and reports its
own timings and peak RSS, then prints the table of issue 6's targets with PASS/FAIL and
writes it (with the machine it ran on) to ``--out``. Absolute figures on a shared
machine are noise: the targets are ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from rxbatches._base.fastjson import FAST_JSON
from rxbatches.emulator import EmulatorThread

from . import data
from .child import ROOT, run_child

MIB = 1 << 20
LONG_MIBS = (1, 4, 8)


@dataclass
class Sizes:
    """How big each part of a run is (``--quick`` shrinks them)."""

    lines: int = 100_000
    small_lines: int = 10_000
    repeat: int = 3
    rx_items: int = 1_000_000
    watches: int = 1000
    create_requests: int = 100_000
    job_requests: int = 250_000


QUICK = Sizes(
    lines=20_000,
    repeat=1,
    rx_items=200_000,
    watches=200,
    create_requests=20_000,
    job_requests=30_000,
)


@dataclass
class Report:
    """The rows of the table, as they are measured."""

    contenders: list[list[str]] = field(default_factory=list)
    targets: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def target(self, what: str, measured: str, goal: str, ok: bool | None) -> None:
        verdict = "info" if ok is None else ("PASS" if ok else "FAIL")
        self.targets.append([what, measured, goal, verdict])
        print(f"  [{verdict}] {what}: {measured} (target {goal})", flush=True)


def _mib(n: float) -> str:
    return f"{n / MIB:.1f} MiB"


# --------------------------------------------------------------------------- sections

RESULT_CONTENDERS = {
    "rx_models": "rxbatches results_streaming (validated models, Observable)",
    "rx_dicts": "rxbatches results_streaming_dicts with rxbatches[fast] (opt-in fast path: "
    "dicts by msgspec, Observable)",
    "rx_dicts_pydantic": "rxbatches results_streaming_dicts without the extra "
    "(dicts by pydantic_core, Observable)",
    "dict_bound": "bare rxbatches HTTP layer + the fast path's dict decoder (no Rx: its bound)",
    "sdk_async": "official SDK AsyncAnthropic ...batches.results()",
    "sdk_sync": "official SDK Anthropic ...batches.results()",
    "bare_split": "bare aiohttp download + line split",
    "bare_pydantic": "bare aiohttp + split + pydantic model_validate_json (no Rx)",
}


def results_section(
    emu: EmulatorThread, sizes: Sizes, report: Report
) -> tuple[dict[str, Any], str]:
    """Stream the big file with every contender; return rxbatches' figures and the batch."""
    path = data.results_file(sizes.lines)
    size = path.stat().st_size
    batch = emu.add_ended_batch(lambda: path.open("rb"), data.results_counts(sizes.lines))
    print(f"results streaming: {sizes.lines:,} lines, {size / 1e6:.0f} MB", flush=True)
    got: dict[str, dict[str, Any]] = {}
    # Rounds over every contender rather than repeats of one: a burst of load from
    # elsewhere on a shared machine then hits every contender alike, not just one.
    for round_ in range(sizes.repeat):
        for name in RESULT_CONTENDERS:
            r = run_child("bench.child", name, "--url", emu.base_url, "--batch", batch,
                           "--bytes", str(size))  # fmt: skip
            if r["items"] != sizes.lines:
                raise RuntimeError(f"{name} read {r['items']} lines, not {sizes.lines}")
            r["rate"] = r["items"] / r["seconds"]
            best = got.setdefault(name, r)
            if r["rate"] > best["rate"]:
                got[name] = r | {"maxrss": max(r["maxrss"], best["maxrss"])}
            else:
                best["maxrss"] = max(r["maxrss"], best["maxrss"])
            print(f"  round {round_ + 1}: {name:14} {r['rate']:>10,.0f} lines/s  "
                  f"peak RSS {_mib(r['maxrss'])}", flush=True)  # fmt: skip
    sdk = max(got["sdk_async"]["rate"], got["sdk_sync"]["rate"])
    bound = got["bare_pydantic"]["rate"]
    for name, label in RESULT_CONTENDERS.items():
        r = got[name]
        report.contenders.append(
            [
                label,
                f"{r['rate']:,.0f}",
                f"{size / r['seconds'] / 1e6:,.0f}",
                f"{r['cpu'] / r['items'] * 1e6:.1f}",
                _mib(r["maxrss"]),
                f"{r['rate'] / sdk:.1f}x",
                f"{r['rate'] / bound:.2f}x",
            ]
        )
    ours = got["rx_models"]["rate"]
    report.target(
        "results_streaming (validated models, Observable) vs the faster official SDK client",
        f"{ours / sdk:.1f}x ({ours:,.0f} vs {sdk:,.0f} lines/s)",
        ">= 5x (stretch 6x)",
        ours >= 5 * sdk,
    )
    sdk_cpu = min(got["sdk_async"]["cpu"], got["sdk_sync"]["cpu"])
    our_cpu = got["rx_models"]["cpu"]
    report.target(
        "the same by client CPU time per line (insensitive to load from elsewhere)",
        f"{sdk_cpu / our_cpu:.1f}x ({our_cpu / sizes.lines * 1e6:.1f} vs "
        f"{sdk_cpu / sizes.lines * 1e6:.1f} us/line)",
        "(info)",
        None,
    )
    report.target(
        "results_streaming vs the bare aiohttp + pydantic bound",
        f"bound/ours = {bound / ours:.2f}",
        "<= 1.5",
        bound / ours <= 1.5,
    )
    dicts = got["rx_dicts"]["rate"]
    report.target(
        "results_streaming_dicts with rxbatches[fast] (opt-in fast path) vs the faster "
        "official SDK client",
        f"{dicts / sdk:.1f}x ({dicts:,.0f} vs {sdk:,.0f} lines/s)",
        ">= 10x",
        dicts >= 10 * sdk,
    )
    dict_cpu = got["rx_dicts"]["cpu"]
    report.target(
        "the same by client CPU time per line",
        f"{sdk_cpu / dict_cpu:.1f}x ({dict_cpu / sizes.lines * 1e6:.1f} vs "
        f"{sdk_cpu / sizes.lines * 1e6:.1f} us/line)",
        "(info)",
        None,
    )
    return got["rx_models"], batch


def memory_section(
    emu: EmulatorThread, sizes: Sizes, big: dict[str, Any], big_batch: str, report: Report
) -> None:
    path = data.results_file(sizes.small_lines)
    batch = emu.add_ended_batch(lambda: path.open("rb"), data.results_counts(sizes.small_lines))
    print("memory", flush=True)
    report.target(
        f"peak RSS of the whole process streaming {sizes.lines:,} lines (rxbatches, "
        "worst of the rounds)",
        _mib(big["maxrss"]),
        "< 64 MiB",
        big["maxrss"] < 64 * MIB,
    )
    for contender, what in (
        ("rx_models", "results_streaming, default max_resumes"),
        ("rx_models_noresume", "results_streaming(max_resumes=0)"),
    ):
        small, large = (
            run_child("bench.child", contender, "--url", emu.base_url, "--batch", b)["maxrss"]
            for b in (batch, big_batch)
        )
        report.target(
            f"peak RSS {sizes.small_lines:,} vs {sizes.lines:,} lines: {what}",
            f"{_mib(small)} vs {_mib(large)} ({(large - small) / MIB:+.1f} MiB)",
            "within 5 MiB",
            abs(large - small) <= 5 * MIB,
        )
    per_mb: dict[int, float] = {}
    for mib in LONG_MIBS:
        long_path = data.long_line_file(mib)
        batch = emu.add_ended_batch(lambda p=long_path: p.open("rb"), {"succeeded": 1})  # type: ignore[misc]
        r = run_child("bench.child", "rx_models", "--url", emu.base_url, "--batch", batch,
                       "--repeat", "5")  # fmt: skip
        per_mb[mib] = r["seconds"] / (long_path.stat().st_size / MIB)
        report.notes.append(
            f"one {mib} MiB result line through results_streaming: {r['seconds'] * 1e3:.1f} ms, "
            f"{per_mb[mib] * 1e3:.2f} ms/MiB, peak RSS {_mib(r['maxrss'])}"
        )
    ratio = per_mb[8] / per_mb[1]
    report.target(
        "one 8 MiB result line: time per MiB, 8 MiB line / 1 MiB line",
        ", ".join(f"{m} MiB {per_mb[m] * 1e3:.2f} ms/MiB" for m in LONG_MIBS)
        + f" (ratio {ratio:.2f})",
        "linear (ratio <= 1.5), no error",
        ratio <= 1.5,
    )


def rx_section(sizes: Sizes, report: Report) -> None:
    print("Rx overhead", flush=True)
    r = run_child("bench.rx_overhead", "--items", str(sizes.rx_items))
    bare = r["bare"]
    report.notes.append(
        "Rx per-item costs (us/item, best of 3, "
        f"{sizes.rx_items:,} items in lists of 12): "
        + ", ".join(f"{name} {cost:.3f}" for name, cost in r.items() if name != "wall")
    )
    report.target(
        "Rx overhead: rxbatches' Observable path (bridge) minus a bare async for loop",
        f"{r['bridge'] - bare:.3f} us/item (bridge {r['bridge']:.3f}, bare {bare:.3f}; "
        f"plain reactivex.create + on_next {r['create']:.3f})",
        "<= 1 us/item",
        r["bridge"] - bare <= 1.0,
    )
    for op in ("map", "filter", "scan", "take_while"):
        added = r[f"bridge+{op}"] - r["bridge"]
        report.target(f"Rx overhead: one ops.{op}", f"+{added:.3f} us/item", "<= 1 us/item",
                      added <= 1.0)  # fmt: skip
    report.target(
        "Rx overhead: Observable path + the 4 operators together, minus the bare loop",
        f"{r['bridge+all4'] - bare:.3f} us/item",
        "(info)",
        None,
    )


def watch_section(emu: EmulatorThread, sizes: Sizes, report: Report) -> None:
    print("watch at scale", flush=True)
    r = run_child("bench.scale", "watch", "--url", emu.base_url, "--watches", str(sizes.watches))
    report.target(
        f"{r['watches']:,} concurrent watches on one client: client CPU per poll",
        f"{r['cpu'] / r['polls'] * 1e6:.0f} us ({r['polls']:,} polls in {r['seconds']:.1f} s, "
        f"{r['cpu']:.2f} s CPU)",
        "(info)",
        None,
    )


def backpressure_section(emu: EmulatorThread, sizes: Sizes, report: Report) -> None:
    """A results stream handed to another thread's consumer, bounded or not (issue 13)."""
    path = data.results_file(sizes.lines)
    batch = emu.add_ended_batch(lambda: path.open("rb"), data.results_counts(sizes.lines))
    print("backpressure", flush=True)
    got: dict[str, dict[str, Any]] = {}
    for _round in range(sizes.repeat):
        modes = ("inline", "bounded_fast", "unbounded_fast", "bounded_loop")
        for mode in (*modes, "bounded_slow", "unbounded_slow"):
            if _round and mode.endswith("_slow"):
                continue  # the slow runs take seconds and measure memory, not speed
            r = run_child("bench.backpressure", mode, "--url", emu.base_url, "--batch", batch)
            if r["items"] != sizes.lines or not r["in_order"]:
                raise RuntimeError(f"{mode}: {r['items']} items, in order: {r['in_order']}")
            best = got.setdefault(mode, r)
            if r["seconds"] < best["seconds"]:
                got[mode] = r
    slow, loose = got["bounded_slow"], got["unbounded_slow"]
    report.target(
        f"slow consumer (0.5 ms every 10 items, another thread) of {sizes.lines:,} results "
        "through rbo.observe_on(max_pending=1000): peak RSS",
        f"{_mib(slow['maxrss'])} (reactivex's ops.observe_on: {_mib(loose['maxrss'])}); "
        "every item once, in order",
        "< 100 MiB",
        slow["maxrss"] < 100 * MIB,
    )
    report.target(
        "the same: longest wait of a 10 ms ticker on the producing event loop",
        f"{slow['max_gap'] * 1e3:.0f} ms (reactivex's ops.observe_on: "
        f"{loose['max_gap'] * 1e3:.0f} ms)",
        "< 100 ms",
        slow["max_gap"] < 0.100,
    )
    inline, fast, loose_fast = got["inline"], got["bounded_fast"], got["unbounded_fast"]
    ratio = inline["seconds"] / fast["seconds"]
    report.target(
        "fast consumer on another thread through rbo.observe_on(max_pending=1000): "
        "lines/s, as a share of the inline consumer's",
        f"{ratio:.0%} ({sizes.lines / fast['seconds']:,.0f} vs "
        f"{sizes.lines / inline['seconds']:,.0f} lines/s; reactivex's ops.observe_on: "
        f"{inline['seconds'] / loose_fast['seconds']:.0%})",
        ">= 90%",
        ratio >= 0.9,
    )
    same_loop = got["bounded_loop"]
    ratio = inline["seconds"] / same_loop["seconds"]
    report.target(
        "fast consumer on the producing loop through rbo.observe_on(AsyncIOScheduler(loop), "
        "max_pending=1000): lines/s, as a share of the inline consumer's",
        f"{ratio:.0%} ({sizes.lines / same_loop['seconds']:,.0f} vs "
        f"{sizes.lines / inline['seconds']:,.0f} lines/s)",
        "information (the 90% goal is the row above's)",
        None,
    )
    c = run_child("bench.backpressure", "ceiling")
    report.target(
        f"the ceiling of any handoff to another thread: {c['items']:,} models parsed on a loop "
        "thread (no network), to a consumer that does nothing, as a share of inline",
        f"rbo.observe_on {c['inline_seconds'] / c['bounded_seconds']:.0%}, reactivex's "
        f"ops.observe_on {c['inline_seconds'] / c['unbounded_seconds']:.0%} "
        f"(inline {c['items'] / c['inline_seconds']:,.0f} models/s)",
        "information",
        None,
    )


def create_section(emu: EmulatorThread, sizes: Sizes, report: Report) -> None:
    n = sizes.create_requests
    body = data.requests_file(n).stat().st_size
    print(f"create: {n:,} requests, {body / 1e6:.0f} MB of body", flush=True)
    got: dict[str, dict[str, Any]] = {}
    # The list creates alternate over rounds (the best kept), as the results contenders
    # do: one burst of load from elsewhere then cannot decide the comparison alone.
    modes = ["create-rx-list", "create-sdk-list"] * min(sizes.repeat, 2)
    modes += ["create-rx-run-file", "create-rx-run-generator"]
    for mode in modes:
        r = run_child("bench.scale", mode, "--url", emu.base_url, "--requests", str(n))
        emu.reset()  # drop the stored requests before the next create
        if r["requests"] != n:
            raise RuntimeError(f"{mode} created {r['requests']} requests, not {n}")
        best = got.setdefault(mode, r)
        if r["seconds"] < best["seconds"]:
            got[mode] = r  # each run's notes below keep every run's memory
        growth = r["maxrss"] - r["rss0"]
        report.notes.append(
            f"{mode}: {r['seconds']:.2f} s ({r['cpu']:.2f} s client CPU), peak RSS growth "
            f"{_mib(growth)} ({growth / body:.1f}x the body)"
        )
    rx, sdk = got["create-rx-list"], got["create-sdk-list"]
    report.target(
        f"create of {n:,} requests from a list: rxbatches vs official SDK time (best of "
        f"{min(sizes.repeat, 2)})",
        f"{rx['seconds']:.2f} s vs {sdk['seconds']:.2f} s (client CPU {rx['cpu']:.2f} vs "
        f"{sdk['cpu']:.2f} s)",
        "no slower",
        rx["seconds"] <= sdk["seconds"],
    )
    for mode, source in (
        ("create-rx-run-file", "a JSONL file"),
        ("create-rx-run-generator", "a generator"),
    ):
        run = got[mode]
        growth = run["maxrss"] - run["rss0"]
        report.target(
            f"create of {n:,} requests from {source} (batches.run): peak RSS growth",
            f"{_mib(growth)} ({growth / body:.1f}x the {body / MIB:.0f} MiB body)",
            "< 64 MiB",
            growth < 64 * MIB,
        )


def loop_gaps_section(sizes: Sizes, report: Report) -> None:
    """The longest a 10 ms ticker waits for its loop during a create and a run() (issue 10)."""
    from bench.loop_gaps import TARGET, describe, measure

    print("event loop gaps (bench.loop_gaps)", flush=True)
    for title, figures in measure(sizes.create_requests, sizes.job_requests, 3):
        report.target(
            f"{title}: longest gap of a 10 ms ticker on the same loop",
            describe(figures),
            f"< {TARGET * 1000:.0f} ms",
            figures["max_gap"] < TARGET,
        )


def gzip_section(emu: EmulatorThread, sizes: Sizes, report: Report) -> None:
    path = data.results_file(sizes.lines)
    batch = emu.add_ended_batch(lambda: path.open("rb"), data.results_counts(sizes.lines))
    print("gzip results", flush=True)
    got = {
        name: run_child("bench.child", name, "--url", emu.base_url, "--batch", batch)
        for name in ("rx_models", "sdk_async")
    }
    ours, sdk = (got[n]["items"] / got[n]["seconds"] for n in ("rx_models", "sdk_async"))
    report.target(
        "gzip-compressed results (emulator compresses on the fly): rxbatches vs SDK async",
        f"{ours:,.0f} vs {sdk:,.0f} lines/s ({ours / sdk:.1f}x); rxbatches client CPU "
        f"{got['rx_models']['cpu']:.2f} s of {got['rx_models']['seconds']:.2f} s, peak RSS "
        f"{_mib(got['rx_models']['maxrss'])}",
        "(info)",
        None,
    )


# --------------------------------------------------------------------------- output


def machine() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for package in ("rxbatches", "anthropic", "aiohttp", "pydantic", "pydantic-core",
                    "msgspec", "reactivex", "httpx2"):  # fmt: skip
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    return [
        f"- CPU: {cpu}, nproc {os.cpu_count()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}",
        f"- {', '.join(versions)}",
    ]


def _table(header: list[str], rows: list[list[str]]) -> Iterator[str]:
    yield "| " + " | ".join(header) + " |"
    yield "|" + "|".join("---" for _ in header) + "|"
    for row in rows:
        yield "| " + " | ".join(row) + " |"


def render(report: Report, sizes: Sizes, quick: bool, seconds: float) -> str:
    lines = [
        f"# rxbatches benchmark ({'quick' if quick else 'full'} run, {seconds:.0f} s)",
        "",
        *machine(),
        "",
        f"## Results streaming ({sizes.lines:,} lines, best of {sizes.repeat}, each in its "
        "own process)",
        "",
        *_table(
            ["contender", "lines/s", "MB/s", "CPU us/line", "peak RSS", "vs SDK", "vs bound"],
            report.contenders,
        ),
        "",
        "`vs SDK`: against the faster of the official SDK's two clients; `vs bound`: against "
        "bare aiohttp + pydantic.",
        "",
        "## Targets",
        "",
        *_table(["target", "measured", "goal", "result"], report.targets),
        "",
        "## Details",
        "",
        *(f"- {note}" for note in report.notes),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="rxbatches benchmark suite (issue 6)")
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.md")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    if not FAST_JSON:
        parser.error("msgspec is not installed: pip install '.[fast]' (tox -e bench does)")
    started = time.perf_counter()

    print("generating data (cached in", data.data_dir(), ")", flush=True)
    data.results_file(sizes.lines)
    data.results_file(sizes.small_lines)
    for mib in LONG_MIBS:
        data.long_line_file(mib)
    data.requests_file(sizes.create_requests)

    report = Report()
    with ExitStack() as stack:
        results = stack.enter_context(EmulatorThread())
        gzipped = stack.enter_context(EmulatorThread(gzip_results=True))
        # Each watched batch takes 2 s (real) to process: several polls per watch.
        slow = stack.enter_context(EmulatorThread(request_latency=2.0))
        creates = stack.enter_context(EmulatorThread(request_latency=1.0))
        big, big_batch = results_section(results, sizes, report)
        memory_section(results, sizes, big, big_batch, report)
        gzip_section(gzipped, sizes, report)
        rx_section(sizes, report)
        watch_section(slow, sizes, report)
        create_section(creates, sizes, report)
        loop_gaps_section(sizes, report)
        backpressure_section(results, sizes, report)

    text = render(report, sizes, args.quick, time.perf_counter() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print()
    print(text)
    print(f"written to {args.out}")
    failed = sum(row[-1] == "FAIL" for row in report.targets)
    print(f"{failed} target(s) not met" if failed else "every target met")
    return 0
