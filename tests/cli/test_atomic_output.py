"""``atomic_output``: the new content replaces a file only once complete; nothing is left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rxbatches._cli._files import atomic_output
from rxbatches._cli._session import CommandError


def _leftovers(directory: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


def _write_then_fail(path: Path, failure: BaseException) -> None:
    with atomic_output(path) as stream:
        stream.write("half a line")
        raise failure


def test_the_new_content_replaces_the_file_only_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("old\n", encoding="utf-8")

    with atomic_output(path) as stream:
        stream.write("new\n")
        stream.flush()
        assert path.read_text(encoding="utf-8") == "old\n"  # not yet

    assert path.read_text(encoding="utf-8") == "new\n"
    assert _leftovers(tmp_path, {"out.jsonl"}) == []


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_failure_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, failure: BaseException
) -> None:
    path = tmp_path / "keep.jsonl"
    path.write_text("ok\n", encoding="utf-8")

    with pytest.raises(type(failure)):
        _write_then_fail(path, failure)

    assert path.read_text(encoding="utf-8") == "ok\n"
    assert _leftovers(tmp_path, {"keep.jsonl"}) == []


def test_a_failure_creates_no_file_where_there_was_none(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        _write_then_fail(tmp_path / "new.jsonl", RuntimeError("boom"))

    assert _leftovers(tmp_path, set()) == []


def test_the_temporary_file_is_beside_the_target(tmp_path: Path) -> None:
    # Same directory, hence same file system: the rename cannot become a copy.
    with atomic_output(tmp_path / "out.jsonl") as stream:
        seen = _leftovers(tmp_path, set())
        stream.write("x")

    assert len(seen) == 1
    assert seen[0].startswith(".out.jsonl.")
    assert seen[0].endswith(".part")


def test_an_existing_files_mode_is_kept_and_a_new_one_follows_the_umask(tmp_path: Path) -> None:
    old = tmp_path / "old.jsonl"
    old.write_text("x", encoding="utf-8")
    old.chmod(0o640)
    umask = os.umask(0o027)
    try:
        with atomic_output(old) as stream:
            stream.write("y")
        with atomic_output(tmp_path / "new.jsonl") as stream:
            stream.write("z")
    finally:
        os.umask(umask)

    assert stat.S_IMODE(old.stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "new.jsonl").stat().st_mode) == 0o640


def test_a_symlink_is_written_through_not_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)

    with atomic_output(link) as stream:
        stream.write("new")

    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == "new"


def test_a_device_is_written_directly(tmp_path: Path) -> None:
    with atomic_output(os.devnull) as stream:
        stream.write("discarded")

    assert Path(os.devnull).exists()  # /dev/null was not replaced by a regular file
    assert not Path(os.devnull).is_file()


def test_a_directory_or_a_missing_folder_is_one_command_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="it is a directory"), atomic_output(tmp_path):
        pass
    with pytest.raises(CommandError, match="cannot write"), atomic_output(tmp_path / "no" / "x"):
        pass
