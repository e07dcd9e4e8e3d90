"""The README runs: every ```python block, as a script, against the emulator, does what it says.

Each block is written to a file and run with this interpreter in a subprocess, as a reader
would run it (a block that only subscribes and exits would print nothing here, as it does for
them), in a temporary working directory holding a small ``requests.jsonl``, with
``ANTHROPIC_BASE_URL`` pointing at an :class:`~rxbatches.emulator.EmulatorThread` and any
``ANTHROPIC_API_KEY``. There is no preamble: each block is a complete script. Each block
is found by the heading it sits under and has its own check of its output and of what the
emulator saw; a new block without a check fails :func:`test_every_python_block_has_a_check`.

The prose is checked where that is cheap: the names it lists exist, and the limits and
defaults it quotes are the code's.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import reactivex.scheduler

import rxbatches
import rxbatches.emulator
import rxbatches.operators
from rxbatches import BatchService
from rxbatches.emulator import EmulatorThread
from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

SCRIPT_TIMEOUT = 20.0
"""Seconds a block may run before the test fails (each takes about a second)."""

REQUESTS: list[dict[str, Any]] = [
    {
        "custom_id": f"req-{i}",
        "params": {
            "model": "claude-haiku-4-5",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": f"Question {i}"}],
        },
    }
    for i in range(5)
]
"""What the ``requests.jsonl`` beside each block holds."""


@dataclass(frozen=True)
class Block:
    heading: str
    code: str
    line: int


def _blocks(text: str) -> list[Block]:
    """Every ```python block of ``text``, with the heading above it and its first line number."""
    blocks: list[Block] = []
    heading = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.strip() == "```python":
            start = i + 1
            end = lines.index("```", start)
            blocks.append(Block(heading, "\n".join(lines[start:end]) + "\n", start + 1))
            i = end
        i += 1
    return blocks


BLOCKS = _blocks(README.read_text(encoding="utf-8"))


@dataclass
class Run:
    """A block's run: its output, and the emulator it ran against."""

    stdout: str
    stderr: str
    emu: EmulatorThread

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    # A fast clock: a small batch has ended by the first poll, whatever the block's interval.
    with EmulatorThread(request_latency=0.001, speed=100.0) as emulator:
        yield emulator


def _run(block: Block, emu: EmulatorThread, cwd: Path, *, quiet: bool = True) -> Run:
    (cwd / "requests.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in REQUESTS), encoding="utf-8"
    )
    script = cwd / "snippet.py"
    script.write_text(block.code, encoding="utf-8")
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": emu.base_url,
        "ANTHROPIC_API_KEY": API_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    done = subprocess.run(
        [sys.executable, "-X", "dev", str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, (
        f"README.md line {block.line} ({block.heading}) exited {done.returncode}:\n{done.stderr}"
    )
    # -X dev shows what a careful reader would see: unclosed sessions, unawaited coroutines.
    assert done.stderr == "" or not quiet, (
        f"README.md line {block.line} wrote to stderr:\n{done.stderr}"
    )
    return Run(done.stdout, done.stderr, emu)


# --- the checks, one per block -------------------------------------------------------------


def _check_client(run: Run) -> None:
    # The first tour: the 100 texts, printed by a plain script, from one batch.
    assert len(run.lines) == 100
    assert sorted(line.split(" ", 1)[0] for line in run.lines) == sorted(
        f"q{i}" for i in range(100)
    )
    assert all(len(line.split(" ", 1)) == 2 for line in run.lines)  # each with its text
    assert len(run.emu.batch_ids()) == 1


def _check_watch_and_results(run: Run) -> None:
    assert len(run.emu.batch_ids()) == 1
    snapshots = run.lines[: -len(REQUESTS)]
    results = run.lines[-len(REQUESTS) :]
    assert snapshots, "watch printed no snapshot"
    assert snapshots[-1] == "ended 0 processing"  # watch completes right after `ended`
    assert all(line.endswith(" processing") for line in snapshots)
    assert results == [f"{r['custom_id']} succeeded" for r in REQUESTS]
    run.emu.wait_for(lambda: run.emu.stats.results_completed == 1)


def _prepare_listing(emu: EmulatorThread) -> None:
    for _ in range(3):
        emu.add_ended_batch([])


def _check_listing(run: Run) -> None:
    newest_first = run.emu.batch_ids()
    assert run.lines == [" ".join(newest_first[:2]), "3 batches in all"]
    # take(2) fetched one page of 2; the whole list two pages (2 + 1).
    assert run.emu.stats.requests["list"] == 1 + 2


def _check_job(run: Run) -> None:
    # The job runs once: one batch on the emulator, whatever the consumers.
    assert len(run.emu.batch_ids()) == 1
    assert run.emu.stats.requests["create"] == 1
    texts = [line for line in run.lines if not line.endswith("% done")]
    progress = [line for line in run.lines if line.endswith("% done")]
    assert sorted(line.split(":", 1)[0] for line in texts) == sorted(
        r["custom_id"] for r in REQUESTS
    )
    assert progress[-1] == "100% done"


def _check_durable_job(run: Run) -> None:
    # Two runs, one batch: the second found every result in the store.
    assert run.lines[:2] == ["run 1: 5 of 5 succeeded", "run 2: 5 of 5 succeeded"]
    assert run.emu.stats.requests["create"] == 1
    assert len(run.emu.batch_ids()) == 1
    batches, tokens = run.lines[2].split(" batch, ")
    assert batches == "1"
    assert int(tokens.removesuffix(" output tokens")) > 0
    assert len(run.lines) == 3


def _check_emulator(run: Run) -> None:
    # The block serves its own emulator: ours sees nothing.
    assert run.lines == ["ended 1 succeeded"]
    assert run.emu.batch_ids() == []


CHECKS: dict[str, Callable[[Run], None]] = {
    "The client": _check_client,
    "Watch and results": _check_watch_and_results,
    "Listing": _check_listing,
    "A whole job, beyond one batch": _check_job,
    "Durable jobs": _check_durable_job,
    "The emulator": _check_emulator,
}
"""One check per README heading that holds a ```python block."""

PREPARE: dict[str, Callable[[EmulatorThread], None]] = {"Listing": _prepare_listing}
"""What the emulator holds before a block runs (nothing, unless listed)."""


def test_every_python_block_has_a_check() -> None:
    headings = [block.heading for block in BLOCKS]

    assert sorted(headings) == sorted(CHECKS), "one ```python block per checked heading"


@pytest.mark.parametrize("block", BLOCKS, ids=[block.heading for block in BLOCKS])
def test_python_block_runs_as_a_script_and_does_what_it_says(
    block: Block, emu: EmulatorThread, tmp_path: Path
) -> None:
    prepare = PREPARE.get(block.heading)
    if prepare is not None:
        prepare(emu)

    run = _run(block, emu, tmp_path)

    CHECKS[block.heading](run)


def test_a_script_that_only_subscribes_prints_nothing(emu: EmulatorThread, tmp_path: Path) -> None:
    # Why the tour iterates: the old first snippet, `texts.subscribe(print)`, ran here
    # exits before its items come. This keeps the harness able to see that failure.
    tour = next(block for block in BLOCKS if block.heading == "The client")
    head, loop = tour.code.split("for custom_id, text in rxbatches.iterate(texts):")
    old = Block(tour.heading, head + "texts.subscribe(print)\n", tour.line)

    run = _run(old, emu, tmp_path, quiet=False)  # what it says at exit is not the point here

    assert run.stdout == ""
    assert "print(custom_id, text)" in loop


# --- the prose -----------------------------------------------------------------------------


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"### {title}\n")
    end = text.find("\n#", start + 1)
    return text[start : end if end != -1 else len(text)]


def _prose() -> str:
    """The README without its code blocks."""
    return re.sub(r"```.*?```", "", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_operators_listed_are_the_operators_and_each_has_a_marble_diagram() -> None:
    listed = re.findall(r"`(\w+)\(", _section("Operators"))
    operators = [
        name
        for name in rxbatches.operators.__all__
        if inspect.isfunction(getattr(rxbatches.operators, name))
    ]

    assert sorted(listed) == sorted(operators)
    for name in listed:
        assert "──" in (getattr(rxbatches.operators, name).__doc__ or ""), name


def test_every_class_named_in_the_prose_exists() -> None:
    namespaces = [rxbatches, rxbatches.emulator, rxbatches.operators, reactivex.scheduler]
    # `CamelCase`, `CamelCase(...)` or `CamelCase.attr`; not `PATH` or `BENCHMARKS.md`.
    named = set(re.findall(r"`([A-Z][a-z][A-Za-z]*)[.(`]", _prose()))

    missing = {n for n in named if not any(hasattr(ns, n) for ns in namespaces)}

    assert {"BatchSubmitted", "CreateOutcomeUnknownError", "ManualClock"} <= named
    assert missing == set()


def test_the_methods_named_in_the_prose_exist() -> None:
    prose = _prose()
    for name in (
        "with_raw_response",
        "with_options",
        "results_streaming",
        "results_streaming_dicts",
        "list_pages",
        "watch",
        "run",
        "results",
    ):
        assert re.search(rf"[`.]{name}\b", prose), name
        assert hasattr(BatchService, name), name
    for name in ("with_options", "close", "aclose"):
        assert re.search(rf"`(await )?client\.{name}\(", prose), name
        assert hasattr(rxbatches.Client, name), name
    for constant in ("NO_TIMEOUT", "ClientClosedError"):
        assert f"`{constant}`" in prose
        assert constant in rxbatches.__all__
    assert "`emu.faults.script(" in prose
    assert hasattr(rxbatches.emulator.Faults, "script")
    assert "Fault.status(" in prose
    assert hasattr(rxbatches.emulator.Fault, "status")
    for attr in ("status_code", "headers", "request_id", "parse"):
        assert hasattr(rxbatches.RawResponse, attr), attr
    for helper in ("iterate", "to_list"):
        assert f"`rxbatches.{helper}(obs)`" in prose
        assert helper in rxbatches.__all__


def test_the_limits_and_defaults_quoted_are_the_codes() -> None:
    prose = _prose()
    resumes = inspect.signature(BatchService.results_streaming).parameters["max_resumes"].default

    assert "`max_resumes=3`" in prose
    assert resumes == 3
    assert "100,000 requests or 256 MB" in prose
    assert rxbatches.MAX_REQUESTS == 100_000
    assert rxbatches.MAX_BODY_BYTES == 256 * 1024 * 1024


def test_the_files_the_prose_points_to_exist() -> None:
    prose = _prose()

    assert "`BENCHMARKS.md`" in prose
    assert (ROOT / "BENCHMARKS.md").is_file()
    assert "`examples/`" in prose
    examples = {p.stem for p in (ROOT / "examples").glob("*.py")}
    # "lifecycle with operators, results to JSONL, a large job, retries and errors, a Tk UI"
    assert {
        "lifecycle_with_operators",
        "stream_results_to_jsonl",
        "large_job",
        "retry_and_errors",
        "reactive_ui",
    } <= examples
