"""Serving a dashboard application on a host and port for as long as a block lasts.

Apart from ``_cli`` (which re-exports :func:`serving`) so that it imports nothing of the
command line: the tests and the bench serve the dashboard through it too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from ._app import TOKEN

__all__ = ["DEFAULT_INTERVAL", "catch_signals", "serving"]

DEFAULT_INTERVAL = 2.0
"""Seconds between two listings of the account's batches, from the command line."""


@contextlib.asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` on ``host``:``port`` until the block ends; yields the page's URL.

    The URL holds the access token (``app[TOKEN]``): it is what to print, and the only
    way in. Leaving the block shuts the server down (open event streams are ended, the
    dashboard's polls stopped, the socket closed) before going on.

    Args:
        app: The dashboard (:func:`~rxbatches.dashboard.make_app`).
        host: The interface to listen on.
        port: The port (0: a free one, shown in the URL).

    Raises:
        OSError: The address cannot be bound (in use, unknown interface).
    """
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{bound}/?token={app[TOKEN]}"
    finally:
        await runner.cleanup()


def catch_signals(stop: asyncio.Event, *signals: int) -> list[int]:
    """On the running loop: each of ``signals`` sets ``stop``; returns the list they go to.

    Where the loop cannot catch signals (Windows, a thread other than the main one)
    nothing is installed: there Ctrl-C raises ``KeyboardInterrupt`` as usual.
    """
    caught: list[int] = []
    loop = asyncio.get_running_loop()
    for sig in signals:

        def handle(sig: int = sig) -> None:
            caught.append(sig)
            stop.set()

        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handle)
    return caught
