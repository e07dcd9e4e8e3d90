"""``python -m rxbatches`` as a real process: the lifecycle, the demo, Ctrl-C, and the key."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rxbatches.emulator import EmulatorThread
from tests.conftest import API_KEY

from .conftest import PYTHON
from .helpers import create_batch, make_requests, write_jsonl


def _run(
    args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "rxbatches", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_create_watch_results_as_processes(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "requests.jsonl", make_requests(30))
    out = tmp_path / "results.jsonl"

    created = _run(["create", str(path), "--json"], cli_env)
    batch_id = json.loads(created.stdout)["id"]
    watched = _run(["watch", batch_id, "--interval", "0.02", "--json"], cli_env)
    fetched = _run(["results", batch_id, "-o", str(out)], cli_env)

    assert (created.returncode, watched.returncode, fetched.returncode) == (0, 0, 0)
    assert json.loads(watched.stdout)["request_counts"]["succeeded"] == 30
    assert len(out.read_text(encoding="utf-8").splitlines()) == 30
    assert "30 lines received" in fetched.stderr


# Imports what ``python -m rxbatches`` imports (0.3 s of each run's 0.4 s), then forks one
# child per command line: each child is a process of its own, with its own stdout, stderr
# and exit status, that runs rxbatches/__main__.py the way ``-m`` does and exits through
# the interpreter's usual shutdown. The parent prints the exit statuses as JSON.
_FORKING_RUNNER = """
import json, os, runpy, sys
import rxbatches._cli

commands, folder = json.load(sys.stdin)
children = []
for i, args in enumerate(commands):
    pid = os.fork()
    if pid == 0:
        for fd, name in ((1, f"{i}.out"), (2, f"{i}.err")):
            os.dup2(os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT), fd)
        sys.argv = ["rxbatches", *args]
        runpy.run_module("rxbatches", run_name="__main__", alter_sys=True)
        sys.exit(0)
    children.append(pid)
print(json.dumps([os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]))
"""


def _run_forked(
    commands: list[list[str]], env: dict[str, str], folder: Path
) -> list[tuple[int, str, str]]:
    """Run ``python -m rxbatches`` once per command, each in a process forked after the imports.

    Returns each process's exit status, stdout and stderr, in the order of ``commands``.
    """
    runner = subprocess.run(
        [PYTHON, "-c", _FORKING_RUNNER],
        input=json.dumps([commands, str(folder)]),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (runner.returncode, runner.stderr) == (0, ""), runner.stderr
    statuses = json.loads(runner.stdout)
    return [
        (
            status,
            (folder / f"{i}.out").read_text(encoding="utf-8"),
            (folder / f"{i}.err").read_text(encoding="utf-8"),
        )
        for i, status in enumerate(statuses)
    ]


@pytest.fixture
def strict_emu() -> Iterator[EmulatorThread]:
    """An emulator that accepts only one key, so another key gets a 401."""
    with EmulatorThread(request_latency=0.001, api_keys=["sk-ant-the-right-key"]) as emu:
        yield emu


def test_the_api_key_never_appears_in_any_output(
    cli_env: dict[str, str], emu: EmulatorThread, strict_emu: EmulatorThread, tmp_path: Path
) -> None:
    batch = create_batch(emu, 3)
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"custom_id": API_KEY, "params": {}}])
    good = write_jsonl(tmp_path / "good.jsonl", make_requests(2))
    runs = [
        (["list", "--json"], 0),
        (["retrieve", batch.id], 0),
        (["watch", batch.id], 0),
        (["results", batch.id], 0),
        (["create", str(good), "--json"], 0),
        (["retrieve", "msgbatch_unknown", "--not-found-grace", "0"], 1),
        (["create", str(bad)], 1),
        (["retrieve", batch.id, "--base-url", "http://127.0.0.1:9"], 1),
        (["retrieve", batch.id, "--base-url", f"{emu.base_url}/{API_KEY}?"], 1),
        (["list", "--base-url", strict_emu.base_url], 1),
        (["list", "--base-url", strict_emu.base_url, "--api-key", API_KEY + "x"], 1),
        (["--api-key", API_KEY, "bogus"], 2),
    ]
    # Forked after the imports, which took most of each process's time (7 to 16 s for the
    # twelve); the other tests here start ``python -m rxbatches`` from scratch.
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    outcomes = _run_forked([args for args, _ in runs], cli_env, outputs)

    for (args, expected), (status, out, err) in zip(runs, outcomes, strict=True):
        assert status == expected, (args, err)
        assert API_KEY not in out + err, args
        assert "Traceback" not in err, args


def test_demo_runs_a_whole_job_fast_and_prints_a_summary(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}  # no key, no base URL needed

    # 600 requests, not the default 3,000: the demo paces its emulator so that a job takes
    # about four seconds per 3,000 requests, long enough to watch but mostly sleep here.
    # tests/cli/test_demo.py checks the default job's requests and failure share.
    done = _run(["demo", "--requests", "600"], env, cwd=tmp_path, timeout=30)

    assert done.returncode == 0, done.stderr
    results = (tmp_path / "rxbatches-demo-results.jsonl").read_text(encoding="utf-8")
    kinds = [json.loads(line)["result"]["type"] for line in results.splitlines()]
    assert len(kinds) == 600
    errored = kinds.count("errored")
    assert 10 < errored < 60  # about 5%, decided by custom_id
    assert kinds.count("succeeded") == 600 - errored
    summary = done.stdout
    assert re.search(rf"^\s+errored\s+{errored:,}\s", summary, re.MULTILINE)
    assert "input tokens" in summary
    assert "output tokens" in summary
    assert "total time" in summary
    assert "rxbatches-demo-results.jsonl (600 lines)" in summary
    assert "processing: 100% 600/600  ended" in done.stderr


def test_ctrl_c_during_watch_exits_130_without_traceback(
    slow_emu: EmulatorThread, cli_env: dict[str, str]
) -> None:
    batch = create_batch(slow_emu, 5, ended=False)
    env = dict(cli_env, ANTHROPIC_BASE_URL=slow_emu.base_url)
    process = subprocess.Popen(
        [PYTHON, "-m", "rxbatches", "watch", batch.id, "--interval", "0.05"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        # The first progress line: watching has begun. (Under PYTHONDEVMODE, asyncio's debug
        # mode may log a slow callback first, on a loaded machine.)
        first = next((line for line in process.stderr if line.startswith("watch:")), "")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert first.startswith("watch: 0% 0/5")
    assert process.returncode == 130
    assert "Traceback" not in err
    assert err.rstrip().endswith("interrupted")
    assert out == ""


def test_the_console_script_runs_the_same_main() -> None:
    script = Path(PYTHON).parent / "rxbatches"
    if not script.exists():
        pytest.skip(f"no console script at {script}: the package is not installed with pip")

    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=30, check=False
    )

    assert done.returncode == 0
    assert "demo" in done.stdout
    assert "watch" in done.stdout
