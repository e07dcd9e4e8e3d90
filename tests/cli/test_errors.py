"""Errors: one summary line, the guidance an error carries, never a page of HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rxbatches.__main__ import main
from rxbatches.emulator import EmulatorThread, Fault

from .helpers import create_batch, make_requests, write_jsonl


def _lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return err.splitlines()


def test_an_ambiguous_create_keeps_its_instructions_and_summarises_the_html(
    cli_env: dict[str, str],
    emu: EmulatorThread,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_jsonl(tmp_path / "requests.jsonl", make_requests(3))
    emu.faults.script("create", Fault.html(502))

    status = main(["create", str(path)])

    lines = _lines(capsys.readouterr().err)
    assert status == 1
    assert re.fullmatch(
        r"error: the create may or may not have made a batch"
        r" \(502 Bad Gateway: an HTML page, probably from a proxy( \(request-id \w+\))?\)",
        lines[0],
    ), lines[0]
    guidance = "\n".join(lines[1:])
    assert "Do not simply retry" in guidance
    assert "holding 3 requests" in guidance
    assert "rxbatches list" in guidance
    assert "create it again only if there is none" in guidance
    assert all(line.startswith("  ") for line in lines[1:])
    assert "<" not in "\n".join(lines)  # no HTML at all


def test_an_html_error_page_is_summarised_in_one_line(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = create_batch(emu, 1)
    # Not retried (x-should-retry: false): the page is what the command sees.
    emu.faults.script("retrieve", Fault.html(502, headers={"x-should-retry": "false"}))

    status = main(["retrieve", batch.id])

    err = capsys.readouterr().err
    assert status == 1
    [line] = _lines(err)
    assert re.fullmatch(
        r"error: 502 Bad Gateway: an HTML page, probably from a proxy \(request-id \w+\)", line
    ), line


def test_a_non_json_error_body_is_described_not_printed(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    body = b"upstream connect error or disconnect/reset before headers\nline two\n"
    emu.faults.script(
        "list", Fault.status(503, {"content-type": "text/plain"}, body, should_retry=False)
    )

    status = main(["list"])

    err = capsys.readouterr().err
    assert status == 1
    [line] = _lines(err)
    assert line.startswith(
        f"error: 503 Service Unavailable: a non-JSON answer (text/plain, {len(body)} bytes),"
        " not the API's (request-id "
    ), line


def test_the_apis_own_error_keeps_its_kind_and_message(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.faults.script("list", Fault.status(403))

    status = main(["list"])

    lines = _lines(capsys.readouterr().err)
    assert status == 1
    assert len(lines) == 1
    assert lines[0].startswith("error: 403 permission_error: ")
    assert "(request-id req_" in lines[0]


def test_a_404_under_a_base_url_ending_in_v1_hints_at_the_path(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["list", "--base-url", f"{emu.base_url}/v1/"])

    lines = _lines(capsys.readouterr().err)
    assert status == 1
    assert lines[0].startswith("error: 404")
    assert lines[1] == (
        "  hint: the base URL ends in /v1, but rxbatches adds /v1/messages/batches itself:"
        f" try --base-url {emu.base_url}"
    )


def test_a_404_with_the_whole_api_path_in_the_base_url_hints_too(
    cli_env: dict[str, str],
    emu: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # From the environment this time, not --base-url.
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"{emu.base_url}/v1/messages/batches")

    status = main(["retrieve", "msgbatch_x", "--not-found-grace", "0"])

    lines = _lines(capsys.readouterr().err)
    assert status == 1
    assert lines[1].startswith("  hint: the base URL ends in /v1/messages/batches")
    assert lines[1].endswith(f"try --base-url {emu.base_url}")


def test_an_ordinary_404_has_no_hint(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["retrieve", "msgbatch_x", "--not-found-grace", "0"])

    lines = _lines(capsys.readouterr().err)
    assert status == 1
    assert len(lines) == 1
    assert "hint" not in lines[0]
