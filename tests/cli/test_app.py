"""The command line as a whole: parsing, usage errors, configuration, exit codes."""

from __future__ import annotations

import pytest

import rxbatches
from rxbatches.__main__ import main
from rxbatches.emulator import EmulatorThread
from tests.conftest import API_KEY

from .helpers import create_batch


def test_help_lists_demo_first_and_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--help"])

    out = capsys.readouterr().out
    assert status == 0
    commands = ["demo", "emulator", "create", "retrieve", "list", "watch", "results"]
    commands += ["cancel", "delete"]
    positions = [out.index(f"    {name}") for name in commands]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        ([], "required: COMMAND"),
        (["watch"], "required: ID"),
        (
            ["watch", "msgbatch_x", "--interval", "0"],
            "--interval: must be a finite number of seconds > 0",
        ),
        # the library's own rule, checked by argparse: a usage error, not a failed watch
        (["watch", "msgbatch_x", "--interval", "inf"], "finite number of seconds > 0, got inf"),
        (["list", "--limit", "zero"], "not a whole number"),
        (["list", "--all", "--limit", "3"], "not allowed with argument"),
        (["list", "--after-id", "a", "--before-id", "b"], "not allowed with argument"),
        (
            ["retrieve", "msgbatch_x", "--not-found-grace", "-1"],
            "--not-found-grace: must be a finite number of seconds >= 0, got -1.0",
        ),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(argv)

    captured = capsys.readouterr()
    assert status == 2  # argparse's convention: 1 is for errors of the work itself
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: ")
    assert expected in captured.err


def test_missing_api_key_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    status = main(["list", "--base-url", "http://127.0.0.1:9"])

    assert status == 1
    assert capsys.readouterr().err == "error: no API key: set ANTHROPIC_API_KEY or pass --api-key\n"


def test_a_malformed_base_url_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)

    status = main(["list", "--base-url", "ftp://example.com"])

    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1
    assert err.startswith("error: base_url:")


def test_options_work_before_and_after_the_subcommand(
    emu: EmulatorThread, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    batch = create_batch(emu, 1)
    options = ["--base-url", emu.base_url, "--api-key", API_KEY]

    before = main([*options, "--json", "retrieve", batch.id])
    first = capsys.readouterr().out
    after = main(["retrieve", batch.id, *options, "--json"])
    second = capsys.readouterr().out

    assert before == after == 0
    assert first == second
    assert batch.id in first
    assert emu.stats.last_headers["retrieve"]["x-api-key"] == API_KEY


def test_a_refused_connection_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)

    # Port 9 (discard) on loopback: nothing listens there in a test environment.
    status = main(["retrieve", "msgbatch_x", "--base-url", "http://127.0.0.1:9"])

    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1
    assert "connection failed" in err


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--version"])

    assert status == 0
    assert capsys.readouterr().out == f"rxbatches {rxbatches.__version__}\n"
