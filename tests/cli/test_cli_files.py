"""The command line as separate processes, as a shell script runs it.

A few end-to-end checks of what the in-process tests cannot show: a batch created by one
process and read by the next while it propagates, an output file that survives a failed
process, and the exit statuses a script sees.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import rxbatches
from rxbatches.emulator import EmulatorThread, Fault

from .conftest import PYTHON
from .helpers import make_requests, write_jsonl


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "rxbatches", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_create_then_retrieve_in_another_process_waits_while_the_batch_propagates(
    emu: EmulatorThread, cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "requests.jsonl", make_requests(3))

    created = _run(["create", str(path), "--id-only"], cli_env)
    batch_id = created.stdout.strip()
    # Not yet visible to the next two asks. (A propagation delay in time would race
    # with the start of the process on a loaded machine; the in-process tests use one.)
    emu.faults.script("retrieve", Fault.status(404), Fault.status(404))
    retrieved = _run(["retrieve", batch_id, "--json"], cli_env)

    assert created.returncode == 0, created.stderr
    assert created.stdout == f"{batch_id}\n"
    assert retrieved.returncode == 0, retrieved.stderr
    assert f'"id":"{batch_id}"' in retrieved.stdout
    assert "not found (404) yet" in retrieved.stderr
    assert emu.stats.requests["retrieve"] == 3


def test_a_failed_results_process_leaves_the_file_it_was_given(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "keep.jsonl"
    path.write_text("ok\n", encoding="utf-8")

    done = _run(["results", "msgbatch_nope", "-o", str(path), "--not-found-grace", "0"], cli_env)

    assert done.returncode == 1
    assert path.read_text(encoding="utf-8") == "ok\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.jsonl"]
    assert done.stderr.startswith("error: 404")
    assert "received" not in done.stderr


def test_exit_statuses_a_script_sees(cli_env: dict[str, str]) -> None:
    usage = _run(["list", "--limit", "zero"], cli_env)
    version = _run(["--version"], cli_env)

    assert usage.returncode == 2
    assert usage.stderr.startswith("error: ")
    assert version.returncode == 0
    assert version.stdout == f"rxbatches {rxbatches.__version__}\n"
