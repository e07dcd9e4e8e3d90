"""A live dashboard in the browser: the account's batches and durable jobs as they happen.

:func:`make_app` builds an ``aiohttp.web`` application (serve it, or mount it in your own
service with ``add_subapp``); ``rxbatches dashboard`` serves it from the command line.
The page is plain HTML, CSS and one script served from this package; it is updated over
Server-Sent Events from the library's own Observables and never calls the API.

Example:
    >>> from aiohttp import web
    >>> from rxbatches.dashboard import TOKEN, make_app
    >>> app = make_app(client, stores=["job.db"])
    >>> print(f"http://127.0.0.1:8790/?token={app[TOKEN]}")
    >>> web.run_app(app, host="127.0.0.1", port=8790)
"""

from ._app import PUSH_PERIOD, TOKEN, make_app

__all__ = ["PUSH_PERIOD", "TOKEN", "make_app"]
