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
    for args, expected in runs:
        done = _run(args, cli_env)

        assert done.returncode == expected, (args, done.stderr)
        assert API_KEY not in done.stdout + done.stderr, args
        assert "Traceback" not in done.stderr, args


def test_demo_runs_a_whole_job_fast_and_prints_a_summary(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}  # no key, no base URL needed

    done = _run(["demo"], env, cwd=tmp_path, timeout=30)

    assert done.returncode == 0, done.stderr
    results = (tmp_path / "rxbatches-demo-results.jsonl").read_text(encoding="utf-8")
    kinds = [json.loads(line)["result"]["type"] for line in results.splitlines()]
    assert len(kinds) == 3000
    errored = kinds.count("errored")
    assert 50 < errored < 300  # about 5%, decided by custom_id
    assert kinds.count("succeeded") == 3000 - errored
    summary = done.stdout
    assert re.search(rf"^\s+errored\s+{errored:,}\s", summary, re.MULTILINE)
    assert "input tokens" in summary
    assert "output tokens" in summary
    assert "total time" in summary
    assert "rxbatches-demo-results.jsonl (3,000 lines)" in summary
    assert "processing: 100% 3,000/3,000  ended" in done.stderr


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
        first = process.stderr.readline()  # the first progress line: watching has begun
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
