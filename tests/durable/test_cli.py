"""``rxbatches run`` and ``rxbatches job status|export|cancel``, in process, against an emulator."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from rxbatches._base.models import Request
from rxbatches._cli._app import main
from rxbatches.emulator import EmulatorThread, Fail, default_responder
from tests.conftest import emulator_for_cli
from tests.durable.helpers import id_counts, requests, write_jsonl


def _responder(request: Request) -> object:
    if request.custom_id.startswith("bad"):
        return Fail("invalid_request_error", "rejected by the test")
    return default_responder(request)


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorThread]:
    with emulator_for_cli(
        monkeypatch, request_latency=0.001, error_rate=0.1, responder=_responder
    ) as emu:
        yield emu


def test_run_status_export_and_cancel(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "requests.jsonl"
    write_jsonl(source, [*requests(120), *requests(2, prefix="bad")])
    store = str(tmp_path / "job.db")
    run = ["run", str(source), "--store", store, "--batch-size", "50", "--interval", "0.02"]
    assert main([*run, "--retry-errored", "3"]) == 0
    assert "done: 122 requests" in capsys.readouterr().err
    made = len(emu.batch_ids())

    assert main(["job", "status", store, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    for key in ("requests", "succeeded", "errored", "expired", "canceled", "pending", "batches"):
        assert isinstance(status[key], int), key
    assert status["requests"] == 122
    assert status["pending"] == 0
    assert status["errored"] >= 2  # the invalid ones, never resubmitted
    assert status["batches"] == made
    assert set(status["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    assert isinstance(status["cost_usd"], float)

    output = tmp_path / "results.jsonl"
    assert main(["job", "export", store, "-o", str(output)]) == 0
    lines = output.read_text().splitlines()
    assert id_counts(lines) == Counter({**{f"r{i}": 1 for i in range(120)}, "bad0": 1, "bad1": 1})
    succeeded = [json.loads(line) for line in lines if '"succeeded"' in line]
    assert len(succeeded) == status["succeeded"]
    assert (
        sum(r["result"]["message"]["usage"]["output_tokens"] for r in succeeded)
        == (status["usage"]["output_tokens"])
    )

    assert main([*run]) == 0  # finished: nothing sent
    assert len(emu.batch_ids()) == made
    assert main(["job", "cancel", store]) == 0
    assert "no live batch" in capsys.readouterr().err


def test_errors_exit_1_and_name_the_problem(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "requests.jsonl"
    bad = requests(3)
    bad[2]["custom_id"] = "not valid!"
    write_jsonl(source, bad)
    assert main(["run", str(source), "--store", str(tmp_path / "job.db")]) == 1
    assert "requests[2].custom_id" in capsys.readouterr().err
    assert emu.batch_ids() == []
    assert main(["job", "status", str(tmp_path / "missing.db")]) == 1
    assert "no job store" in capsys.readouterr().err
