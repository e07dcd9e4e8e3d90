"""The progress renderer: a live one-line bar on a terminal, plain lines otherwise.

Progress always goes to stderr, so stdout stays clean for data (JSON, JSONL). On a
terminal the line is redrawn in place (carriage return) at most every ``redraw`` seconds; when
stderr is piped or redirected, a plain line is written at most every ``plain_every``
seconds (the first and the last one always), which reads well in a log file.

Updates may come from any thread (the client's items arrive on its loop thread): every
method takes a lock.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

__all__ = ["ProgressLine", "format_duration"]

_BAR_WIDTH = 28
_CLEAR_TO_END = "\x1b[K"


def format_duration(seconds: float) -> str:
    """Format a duration as ``4.2s``, ``3m05s`` or ``1h02m``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class ProgressLine:
    """One line of progress on ``stream``: a bar when counts are known, else a counter.

    Args:
        stream: Where to write (stderr).
        label: A short prefix naming the work (``"watch"``, ``"results"``).
        live: Redraw in place; ``None``: when ``stream`` is a terminal.
        enabled: ``False`` writes nothing at all (``--quiet``).
        plain_every: Seconds between plain lines when not live.
        redraw: Seconds between live redraws.
    """

    def __init__(
        self,
        stream: TextIO,
        label: str,
        *,
        live: bool | None = None,
        enabled: bool = True,
        plain_every: float = 1.0,
        redraw: float = 0.05,
    ) -> None:
        self._stream = stream
        self._label = label
        self._live = _isatty(stream) if live is None else live
        self._enabled = enabled
        self._every = plain_every if not self._live else redraw
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_write: float | None = None
        self._last_text = ""
        self._drawn = False  # a live line is on screen and needs clearing
        self._closed = False

    @property
    def live(self) -> bool:
        """Whether the line is redrawn in place (stderr is a terminal)."""
        return self._live

    @property
    def elapsed(self) -> float:
        """Seconds since this progress line was made."""
        return time.monotonic() - self._started

    def update(
        self, done: int, total: int | None = None, detail: str = "", *, force: bool = False
    ) -> None:
        """Show ``done`` of ``total`` (a bar) or ``done`` alone (a counter).

        Args:
            done: Units done so far.
            total: Units in all, when known.
            detail: Extra words shown after the counts.
            force: Write now even if the last write was very recent.
        """
        text = self._render(done, total, detail)
        with self._lock:
            if self._closed or not self._enabled:
                return
            now = time.monotonic()
            due = self._last_write is None or now - self._last_write >= self._every
            if not (force or due) or (not self._live and text == self._last_text and not force):
                return
            self._write(text)
            self._last_write = now
            self._last_text = text

    def finish(self, message: str | None = None) -> None:
        """End the line: clear a live bar and write ``message`` (if any) as a plain line."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self._enabled:
                return
            if self._live and self._drawn:
                self._stream.write("\r" + _CLEAR_TO_END)
            if message:
                self._stream.write(f"{self._label}: {message}\n")
            self._stream.flush()

    def _render(self, done: int, total: int | None, detail: str) -> str:
        elapsed = format_duration(self.elapsed)
        extra = f"  {detail}" if detail else ""
        if total is None or total <= 0:
            return f"{self._label}: {done:,}{' ' + detail if detail else ''}  {elapsed}"
        fraction = min(1.0, max(0.0, done / total))
        if self._live:
            filled = round(fraction * _BAR_WIDTH)
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            return f"{self._label} [{bar}] {fraction:4.0%} {done:,}/{total:,}{extra}  {elapsed}"
        return f"{self._label}: {fraction:.0%} {done:,}/{total:,}{extra}  {elapsed}"

    def _write(self, text: str) -> None:
        if self._live:
            self._stream.write("\r" + text + _CLEAR_TO_END)
            self._drawn = True
        else:
            self._stream.write(text + "\n")
        self._stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: not a terminal
        return False
