"""Request bodies written piece by piece and spooled to a temporary file past 1 MiB.

A job's batch body can be 256 MB: :class:`FileBody` lets the job's splitter write it a
request at a time and the HTTP layer send it in blocks, so it is never whole in memory.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncGenerator, Iterator

from .offload import off_loop

__all__ = ["FileBody"]

_BLOCK = 256 * 1024
"""Bytes read from the file at a time."""

_SPOOL = 1 << 20
"""A :class:`FileBody` stays in memory up to this size, then goes to a temporary file."""


def _read_at(fd: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, _BLOCK, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # pragma: no cover - Windows has no pread
    return os.read(fd, _BLOCK)  # pragma: no cover


class FileBody:
    """A request body written piece by piece, spooled to a temporary file past 1 MiB.

    Sent in blocks with its exact ``Content-Length``; each attempt reads it again from
    its start, so a retried request sends the same bytes. The file is a bare descriptor
    (no file object to warn when it is collected unclosed): :meth:`close`, or losing the
    last reference, closes it, and the file (already unlinked) goes with it.
    """

    __slots__ = ("_buffer", "_fd", "handed_whole", "size")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._fd = -1
        self.size = 0
        """The body's length in bytes so far."""
        self.handed_whole = False
        """Whether an attempt was handed the body's last byte: while not, no server can
        have received all of it (so no batch can have been made from it)."""

    def write(self, data: bytes | memoryview) -> None:
        """Append bytes to the body (blocking: past 1 MiB, they go to the file)."""
        self.size += len(data)
        if len(self._buffer) + len(data) < _SPOOL:
            self._buffer += data
            return
        if self._fd < 0:
            with tempfile.TemporaryFile() as file:
                self._fd = os.dup(file.fileno())
        if self._buffer:
            self._write_all(self._buffer)
            self._buffer = bytearray()
        # A large piece goes straight to the file, not copied into the buffer first.
        self._write_all(data)

    def _write_all(self, data: bytes | bytearray | memoryview) -> None:
        with memoryview(data) as whole:
            view = whole
            while view:
                view = view[os.write(self._fd, view) :]

    def blocks(self) -> Iterator[bytes]:
        """Read the body from its start, a block at a time."""
        if self._fd >= 0:
            # pread, at an offset of its own: two readers (an attempt abandoned while its
            # worker thread still reads, and the retry) never move each other's position.
            offset = 0
            while block := _read_at(self._fd, offset):
                offset += len(block)
                yield block
        if self._buffer:
            yield bytes(self._buffer)

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """The body for one attempt of a request, from its start, as aiohttp reads it.

        The file is read in a worker thread: a block usually comes from the page cache
        in microseconds, but a busy disk can make one read wait far longer, and the
        event loop must not wait with it.
        """
        if self._fd < 0:
            if self._buffer:
                self.handed_whole = True
                yield bytes(self._buffer)
            return
        blocks = self.blocks()
        handed = 0
        while (block := await off_loop(next, blocks, None)) is not None:
            handed += len(block)
            if handed >= self.size:
                self.handed_whole = True
            yield block

    def close(self) -> None:
        """Drop the body: close (and so delete) its file (blocking: see :meth:`aclose`)."""
        fd, self._fd = self._fd, -1
        self._buffer = bytearray()
        if fd >= 0:
            os.close(fd)

    async def aclose(self) -> None:
        """:meth:`close` in a worker thread: deleting a large file can take the disk a while."""
        if self._fd < 0:
            self.close()
            return
        try:
            await off_loop(self.close)
        except RuntimeError:  # the loop's executor is shut down: close here, still closed
            self.close()

    def __del__(self) -> None:
        self.close()
