"""The event loop of the calling thread, asked without raising."""

from __future__ import annotations

import asyncio

__all__ = ["running_loop"]


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running on this thread, or ``None`` (``asyncio.get_running_loop`` raises)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
