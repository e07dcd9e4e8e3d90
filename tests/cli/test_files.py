"""Every file the command line writes appears complete or not at all; an old one survives."""

from __future__ import annotations

import _thread
import json
import threading
from pathlib import Path

import pytest

from rxbatches import Request
from rxbatches.__main__ import main
from rxbatches._cli import _demo
from rxbatches.emulator import EmulatorThread, Fault, Outcome

from .helpers import create_batch


def _leftovers(directory: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


# ---------------------------------------------------------------- results -o FILE


def test_results_of_an_unknown_id_keeps_the_file_and_says_nothing_about_lines(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keep.jsonl"
    path.write_text("ok\n", encoding="utf-8")

    status = main(["results", "msgbatch_nope", "-o", str(path), "--not-found-grace", "0"])

    err = capsys.readouterr().err
    assert status == 1
    assert path.read_text(encoding="utf-8") == "ok\n"
    assert _leftovers(tmp_path, {"keep.jsonl"}) == []
    assert "lines received" not in err
    assert "written to" not in err
    assert err.startswith("error: 404")


def test_results_of_an_invalid_id_prints_only_the_error(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keep.jsonl"
    path.write_text("ok\n", encoding="utf-8")

    status = main(["results", "../etc", "-o", str(path)])

    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert "received" not in err
    assert path.read_text(encoding="utf-8") == "ok\n"


def test_one_result_is_one_line_not_one_lines(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = create_batch(emu, 1)

    status = main(["results", batch.id])

    assert status == 0
    assert "results: 1 line received (1 succeeded)\n" in capsys.readouterr().err


def test_a_download_cut_by_an_error_keeps_the_old_file(
    cli_env: dict[str, str], emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = create_batch(emu, 20)
    path = tmp_path / "keep.jsonl"
    path.write_text("ok\n", encoding="utf-8")
    # Cut after 5 lines every time: the resumes run out and the download fails.
    emu.faults.script("results", *[Fault.truncate_lines(5, mid_line=False)] * 10)

    status = main(["results", batch.id, "-o", str(path)])

    err = capsys.readouterr().err
    assert status == 1
    assert path.read_text(encoding="utf-8") == "ok\n"
    assert _leftovers(tmp_path, {"keep.jsonl"}) == []
    assert f"5 lines received before the error; {path} was not written" in err
    assert "written to" not in err


def test_ctrl_c_mid_download_keeps_the_old_file(
    cli_env: dict[str, str], emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = create_batch(emu, 50)
    path = tmp_path / "keep.jsonl"
    path.write_text("ok\n", encoding="utf-8")
    # A trickled body: the download is still running when Ctrl-C comes.
    emu.faults.script("results", Fault.slow(chunk_bytes=64, interval=0.02))

    def interrupt_mid_download() -> None:
        emu.wait_for(lambda: emu.stats.requests["results"] >= 1, timeout=10)
        _thread.interrupt_main()

    helper = threading.Thread(target=interrupt_mid_download)
    helper.start()
    status = main(["results", batch.id, "-o", str(path)])
    helper.join()

    assert status == 130
    assert path.read_text(encoding="utf-8") == "ok\n"
    assert _leftovers(tmp_path, {"keep.jsonl"}) == []
    assert "written to" not in capsys.readouterr().err


# ---------------------------------------------------------------- the demo


def test_the_demo_says_where_its_default_file_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    status = main(["demo", "--requests", "50"])

    captured = capsys.readouterr()
    where = str(tmp_path / "rxbatches-demo-results.jsonl")
    assert status == 0
    assert f"results go to {where}\n" in captured.err
    assert f"results: 50 lines written to {where}\n" in captured.err
    assert f"results file      {where} (50 lines)" in captured.out
    assert len(Path(where).read_text(encoding="utf-8").splitlines()) == 50


def test_ctrl_c_during_the_demo_keeps_an_earlier_results_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.jsonl"
    path.write_text("earlier run\n", encoding="utf-8")
    interrupted = threading.Event()
    responder = _demo.demo_responder

    def interrupting_responder(request: Request) -> Outcome:
        # Ctrl-C once the emulator is working on the batch (the file is open by then).
        if not interrupted.is_set():
            interrupted.set()
            _thread.interrupt_main()
        return responder(request)

    monkeypatch.setattr(_demo, "demo_responder", interrupting_responder)

    status = main(["demo", "--requests", "50", "-o", str(path)])

    assert status == 130
    assert interrupted.is_set()
    assert path.read_text(encoding="utf-8") == "earlier run\n"
    assert _leftovers(tmp_path, {"demo.jsonl"}) == []
    assert "written to" not in capsys.readouterr().err


def test_the_demo_json_summary_names_the_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    status = main(["demo", "--requests", "20", "-o", "sub.jsonl", "--json", "--quiet"])

    summary = json.loads(capsys.readouterr().out)
    assert status == 0
    assert summary["output"] == str(tmp_path / "sub.jsonl")


def test_gitignore_lists_the_demo_file() -> None:
    gitignore = Path(__file__).resolve().parents[2] / ".gitignore"

    assert _demo.DEFAULT_OUTPUT in gitignore.read_text(encoding="utf-8").splitlines()
