"""CLI basics for scripts: list paging (--after-id, --before-id, --all) and create --id-only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rxbatches.__main__ import main
from rxbatches.emulator import EmulatorThread

from .helpers import create_batch, make_requests, write_jsonl


def _ids(emu: EmulatorThread, n: int) -> list[str]:
    """Make ``n`` batches; returns their ids newest first, as list shows them."""
    return [create_batch(emu, 1, ended=False).id for _ in range(n)][::-1]


def _listed(capsys: pytest.CaptureFixture[str]) -> tuple[list[str], str]:
    captured = capsys.readouterr()
    return [batch["id"] for batch in json.loads(captured.out)], captured.err


def test_after_id_lists_the_older_batches_and_says_where_the_next_page_starts(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _ids(emu, 7)

    first = main(["list", "--limit", "3", "--json"])
    page1, err1 = _listed(capsys)
    second = main(["list", "--limit", "3", "--after-id", page1[-1], "--json"])
    page2, err2 = _listed(capsys)
    third = main(["list", "--limit", "3", "--after-id", page2[-1], "--json"])
    page3, err3 = _listed(capsys)

    assert first == second == third == 0
    assert page1 + page2 + page3 == ids
    assert err1 == f"more: rxbatches list --after-id {ids[2]} (or --all)\n"
    assert err2 == f"more: rxbatches list --after-id {ids[5]} (or --all)\n"
    assert err3 == ""  # the last page: nothing more


def test_before_id_lists_the_newer_batches_newest_first(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _ids(emu, 6)

    status = main(["list", "--limit", "2", "--before-id", ids[3], "--json"])
    page, err = _listed(capsys)

    assert status == 0
    assert page == [ids[1], ids[2]]  # the two just newer than ids[3]
    assert err == f"more: rxbatches list --before-id {ids[1]} (or --all)\n"


@pytest.fixture
def crowded_emu(emu: EmulatorThread) -> list[str]:
    """1,010 ended batches in ``emu``: more than one page of 1,000; their ids newest first."""
    return [emu.add_ended_batch([]) for _ in range(1010)][::-1]


def test_all_fetches_every_page(
    cli_env: dict[str, str],
    emu: EmulatorThread,
    crowded_emu: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["list", "--all", "--json"])
    page, err = _listed(capsys)

    assert status == 0
    assert page == crowded_emu
    assert emu.stats.requests["list"] == 2
    assert err == ""


def test_before_id_over_several_pages_is_still_newest_first(
    cli_env: dict[str, str],
    emu: EmulatorThread,
    crowded_emu: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["list", "--all", "--before-id", crowded_emu[-1], "--json"])
    page, err = _listed(capsys)

    assert status == 0
    assert emu.stats.requests["list"] == 2
    assert page == crowded_emu[:-1]
    assert err == ""


def test_a_limit_over_one_page_takes_what_it_needs_and_says_there_is_more(
    cli_env: dict[str, str],
    emu: EmulatorThread,
    crowded_emu: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["list", "--limit", "1005", "--json"])
    page, err = _listed(capsys)

    assert status == 0
    assert page == crowded_emu[:1005]
    assert err == f"more: rxbatches list --after-id {crowded_emu[1004]} (or --all)\n"


def test_the_table_goes_to_stdout_and_the_paging_hint_to_stderr(
    cli_env: dict[str, str], emu: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _ids(emu, 3)

    status = main(["list", "--limit", "2"])

    captured = capsys.readouterr()
    rows = captured.out.splitlines()
    assert status == 0
    assert [row.split()[0] for row in rows[1:]] == ids[:2]
    assert captured.err == f"more: rxbatches list --after-id {ids[1]} (or --all)\n"


def test_create_id_only_prints_just_the_id(
    cli_env: dict[str, str], emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "requests.jsonl", make_requests(2))

    status = main(["create", str(path), "--id-only"])

    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("msgbatch_")
    assert out.count("\n") == 1
    assert main(["retrieve", out.strip(), "--quiet"]) == 0
