"""Files the command line writes appear complete or not at all.

The data goes to a temporary file in the target's own directory (so that the rename
stays on one file system), is flushed and fsynced, then renamed over the target with
``os.replace``, which is atomic on POSIX and Windows. On any failure, Ctrl-C included,
the temporary file is removed and an existing target is left exactly as it was: a
results download that fails half-way never costs the user the file they had.

Targets that are not regular files (``/dev/null``, a named pipe, a terminal) cannot be
replaced by a rename; they are written directly, as ``open()`` would.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from ._session import CommandError

__all__ = ["atomic_output", "display_path"]


def display_path(path: str | os.PathLike[str]) -> str:
    """The absolute path of ``path`` as the user would type it (symlinks not resolved)."""
    return os.path.abspath(path)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """Open a text stream whose content replaces ``path`` only if the block succeeds.

    ::

        with atomic_output("out.jsonl") as stream:   # writes .out.jsonl.XXXX.part
            stream.write(...)                        # beside out.jsonl
        # here: out.jsonl has the new content (fsynced), the .part file is gone
        # on an exception or Ctrl-C: out.jsonl is untouched, the .part file is gone

    Raises:
        CommandError: The temporary file cannot be made or the rename fails (naming
            ``path`` and the reason).
    """
    # Write through a symlink to the file it names, as open() would, rather than
    # replacing the link itself.
    target = Path(os.path.realpath(path))
    existing = _stat(target)
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        if stat.S_ISDIR(existing.st_mode):
            raise CommandError(f"cannot write {path}: it is a directory")
        with _open_direct(path) as stream:
            yield stream
        return
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with open(fd, "w", encoding="utf-8", newline="\n") as stream:
            # mkstemp makes the file 0600; give it the mode open() would have given it
            # (a file system without modes keeps its own: not worth failing over).
            with contextlib.suppress(OSError):
                os.chmod(temporary, _mode_for(existing))
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.replace(temporary, target)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(target.parent)


@contextlib.contextmanager
def _open_direct(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    try:
        stream = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    with stream:
        yield stream


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def _mode_for(existing: os.stat_result | None) -> int:
    if existing is not None:
        return stat.S_IMODE(existing.st_mode)
    # A new file gets 0666 less the umask, which can only be read by setting it.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _sync_directory(directory: Path) -> None:
    # The rename itself survives a crash only once the directory entry is on disk.
    # Not possible everywhere (Windows has no O_DIRECTORY): best effort.
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
