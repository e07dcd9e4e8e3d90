"""Every client subcommand, run in-process with ``main([...])``: output, JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rxbatches.__main__ import main
from rxbatches.emulator import EmulatorThread

from .helpers import create_batch, make_requests, write_jsonl


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    return lines[0]


def test_create_prints_the_new_batch_as_json(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "requests.jsonl", make_requests(7))

    status = main(["create", str(path), "--json"])

    batch = json.loads(capsys.readouterr().out)
    assert status == 0
    assert batch["type"] == "message_batch"
    assert batch["id"].startswith("msgbatch_")
    assert batch["request_counts"]["processing"] == 7


def test_create_prints_the_batch_for_people_without_json(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "requests.jsonl", make_requests(3))

    status = main(["create", str(path)])

    out = capsys.readouterr().out
    assert status == 0
    assert "id:       msgbatch_" in out
    assert "3 requests" in out


def test_create_skips_blank_lines_and_reads_stdin(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    text = "\n".join(json.dumps(r) for r in make_requests(2)) + "\n\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(text))

    status = main(["create", "-", "--json"])

    assert status == 0
    assert json.loads(capsys.readouterr().out)["request_counts"]["processing"] == 2


def test_create_names_file_line_index_field_and_rule_of_a_bad_request(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = make_requests(3)
    requests[2]["custom_id"] = "not valid!"
    path = tmp_path / "requests.jsonl"
    # A blank line before the bad request: file line 4 holds requests[2].
    lines = [json.dumps(requests[0]), json.dumps(requests[1]), "", json.dumps(requests[2])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    status = main(["create", str(path)])

    line = _one_error_line(capsys.readouterr().err)
    assert status == 1
    assert f"{path}:4:" in line
    assert "requests[2].custom_id" in line
    assert "does not match" in line


def test_create_names_a_missing_field(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = make_requests(2)
    del requests[1]["params"]["max_tokens"]
    path = write_jsonl(tmp_path / "requests.jsonl", requests)

    status = main(["create", str(path)])

    line = _one_error_line(capsys.readouterr().err)
    assert status == 1
    assert f"{path}:2: requests[1].params.max_tokens: is required" in line


def test_create_reports_the_line_of_invalid_json(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_text(json.dumps(make_requests(1)[0]) + '\n{"custom_id": "a",\n', encoding="utf-8")

    status = main(["create", str(path)])

    line = _one_error_line(capsys.readouterr().err)
    assert status == 1
    assert f"{path}:2: not valid JSON" in line


def test_create_of_an_empty_file_says_a_request_is_needed(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")

    status = main(["create", str(path)])

    assert status == 1
    assert "at least 1 request" in _one_error_line(capsys.readouterr().err)


def test_create_of_a_missing_file_is_one_error_line(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["create", str(tmp_path / "nope.jsonl")])

    assert status == 1
    assert "cannot read" in _one_error_line(capsys.readouterr().err)


def test_retrieve_prints_the_batch_as_json(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = create_batch(emu, 4)

    status = main(["retrieve", batch.id, "--json"])

    got = json.loads(capsys.readouterr().out)
    assert status == 0
    assert got["id"] == batch.id
    assert got["processing_status"] == "ended"
    assert got["request_counts"]["succeeded"] == 4


@pytest.mark.parametrize("command", ["retrieve", "watch", "results", "cancel", "delete"])
def test_an_unknown_id_exits_1_with_one_line(
    cli_env: dict[str, str], command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A short grace: the 404 is asked again for 0.3 s, then reported.
    status = main([command, "msgbatch_doesnotexist", "--quiet", "--not-found-grace", "0.3"])

    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert status == 1
    assert "404" in line
    assert "msgbatch_doesnotexist" in line
    assert captured.out == ""


def test_list_prints_every_batch_newest_first_as_json(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [create_batch(emu, 1, ended=False).id for _ in range(3)]

    status = main(["list", "--json"])

    got = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [b["id"] for b in got] == ids[::-1]


def test_list_limit_bounds_the_rows(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [create_batch(emu, 1, ended=False).id for _ in range(3)]

    status = main(["list", "--limit", "2"])

    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[0].split() == ["ID", "STATUS", "REQUESTS", "CREATED"]
    assert [row.split()[0] for row in out[1:]] == [ids[2], ids[1]]


def test_watch_exits_when_the_batch_has_ended_and_prints_it(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = create_batch(emu, 20, ended=False)

    status = main(["watch", batch.id, "--interval", "0.01", "--json"])

    captured = capsys.readouterr()
    got = json.loads(captured.out)
    assert status == 0
    assert got["id"] == batch.id
    assert got["processing_status"] == "ended"
    assert got["request_counts"]["succeeded"] == 20
    # Not a terminal here: plain progress lines, the last one with the final counts.
    assert "\r" not in captured.err
    assert "watch: 100% 20/20" in captured.err
    assert captured.err.splitlines()[-1] == "watch: ended, 20 requests: 20 succeeded"


def test_watch_quiet_prints_no_progress(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = create_batch(emu, 2)

    status = main(["watch", batch.id, "--quiet"])

    captured = capsys.readouterr()
    assert status == 0
    assert captured.err == ""
    assert f"id:       {batch.id}" in captured.out


def test_results_writes_one_jsonl_line_per_result_to_stdout(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = create_batch(emu, 25)

    status = main(["results", batch.id])

    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert status == 0
    assert len(lines) == 25
    assert {json.loads(line)["custom_id"] for line in lines} == {f"r{i}" for i in range(25)}
    assert "results: 25 lines received (25 succeeded)" in captured.err


def test_results_output_file_gets_every_line_and_json_summary(
    cli_env: dict[str, str],
    emu: EmulatorThread,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    batch = create_batch(emu, 40)
    path = tmp_path / "out.jsonl"

    status = main(["results", batch.id, "-o", str(path), "--json"])

    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert status == 0
    assert len(lines) == 40
    assert all(json.loads(line)["result"]["type"] == "succeeded" for line in lines)
    assert summary == {
        "batch_id": batch.id,
        "lines": 40,
        "by_type": {"succeeded": 40},
        "output": str(path),
    }
    assert f"40 lines received (40 succeeded), written to {path}" in captured.err


def test_results_before_the_batch_has_ended_is_one_error_line(
    slow_emu: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", slow_emu.base_url)
    batch = create_batch(slow_emu, 2, ended=False)

    status = main(["results", batch.id, "--quiet"])

    assert status == 1
    assert "400" in _one_error_line(capsys.readouterr().err)


def test_cancel_answers_canceling_then_delete_removes_the_ended_batch(
    serial_emu: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", serial_emu.base_url)
    batch = create_batch(serial_emu, 50, ended=False)  # 10 s of work, one request at a time

    assert main(["cancel", batch.id, "--json"]) == 0
    canceled = json.loads(capsys.readouterr().out)
    assert canceled["processing_status"] == "canceling"
    assert main(["watch", batch.id, "--interval", "0.01", "--quiet", "--json"]) == 0
    ended = json.loads(capsys.readouterr().out)
    assert ended["processing_status"] == "ended"
    assert ended["request_counts"]["canceled"] >= 40
    assert main(["delete", batch.id, "--json"]) == 0
    deleted = json.loads(capsys.readouterr().out)
    assert deleted == {"id": batch.id, "type": "message_batch_deleted"}
    assert main(["retrieve", batch.id, "--quiet", "--not-found-grace", "0"]) == 1


def test_delete_of_a_batch_still_processing_is_one_error_line(
    slow_emu: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", slow_emu.base_url)
    batch = create_batch(slow_emu, 1, ended=False)

    status = main(["delete", batch.id])

    assert status == 1
    assert "400" in _one_error_line(capsys.readouterr().err)
