"""The HTTP layer: the only module that uses aiohttp's client.

It owns one ``aiohttp.ClientSession`` per event loop (a session belongs to the loop it
was created on), builds the headers, applies per-read timeouts, retries with backoff
as the official SDKs do, and turns every failure into an error of :mod:`rxbatches._base.errors`
(raw aiohttp exceptions never leave this module).

Retries follow :mod:`rxbatches._transport.retry` (``max_retries`` after the first attempt, 2 by
default; a create is only retried when nothing can have been created, and a create
that fails in a way that leaves it unknown whether a batch was made ends in
:class:`~rxbatches.CreateOutcomeUnknownError`). aiohttp itself
also re-sends a GET or DELETE once when the connection drops before an answer (RFC 9112
section 9.3.1); that attempt is not counted in ``max_retries``. It never re-sends a
POST, so the create policy holds.

Redirects are not followed, so the API key is only ever sent to the configured base
URL; a 3xx answer is an :class:`~rxbatches.APIStatusError`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import metadata
from typing import TypeVar

import aiohttp

from .._base.body import FileBody
from .._base.errors import APIConnectionError, APIError, APITimeoutError, CreateOutcomeUnknownError
from .._base.options import ClientOptions, EffectiveOptions
from .._rx.runtime import Runtime, Runtimes, closed_error
from .response import RawResponse, scrub, status_error
from .retry import CREATE_SAFE_STATUSES, retry_delay, should_retry_status

__all__ = ["ANTHROPIC_VERSION", "USER_AGENT", "ConnectorFactory", "HTTPClient", "StreamResponse"]

T = TypeVar("T")

ANTHROPIC_VERSION = "2023-06-01"

try:
    _VERSION = metadata.version("rxbatches")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    _VERSION = "0+unknown"
USER_AGENT = f"rxbatches/{_VERSION}"

log = logging.getLogger("rxbatches")

_LARGE_BODY = 1 << 20
"""Bodies larger than this are streamed: aiohttp warns (``ResourceWarning``) about raw
bytes over 1 MiB, and under ``-W error`` that warning would break the request."""

_BODY_BLOCK = 256 * 1024
"""Bytes of a streamed body handed to aiohttp at a time."""


async def _slices(body: bytes) -> AsyncIterator[memoryview]:
    view = memoryview(body)
    for start in range(0, len(view), _BODY_BLOCK):
        yield view[start : start + _BODY_BLOCK]


class StreamResponse:
    """An open 2xx response whose body is read chunk by chunk (see :meth:`HTTPClient.stream`)."""

    def __init__(
        self, response: aiohttp.ClientResponse, *, url: str, retries_taken: int, secret: str
    ) -> None:
        self._response = response
        self._secret = secret
        self.status_code = response.status
        self.headers: Mapping[str, str] = response.headers
        self.method = response.method
        self.url = url
        self.retries_taken = retries_taken

    @property
    def request_id(self) -> str | None:
        """The ``request-id`` header of the response."""
        return self.headers.get("request-id")

    def raw(self, value: T) -> RawResponse[T]:
        """Wrap an already decoded value with this response's status and headers."""
        return RawResponse(
            status_code=self.status_code,
            headers=self.headers,
            method=self.method,
            url=self.url,
            retries_taken=self.retries_taken,
            content=None,
            parser=lambda _raw: value,
        )

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the body's bytes as they arrive, in chunks of whatever size the network gives.

        Raises:
            APIConnectionError: The connection was lost (or the body cut short) before the
                end of the body: never a silent end.
            APITimeoutError: No byte arrived within the read timeout.
        """
        readany = self._response.content.readany
        try:
            while chunk := await readany():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _transport_error(
                exc, self.method, self.url, mid_body=True, secret=self._secret
            ) from None


def _may_retry_transport(exc: BaseException, *, create: bool) -> bool:
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ServerFingerprintMismatch):
        return False  # a certificate problem does not go away by asking again
    if create:
        # Only failures to open the connection prove that no byte of the body went out.
        return isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    return True


def _proves_not_sent(exc: BaseException) -> bool:
    """Whether a transport failure happened before any byte of the request went out."""
    return isinstance(
        exc,
        aiohttp.ClientConnectorError
        | aiohttp.ConnectionTimeoutError
        | aiohttp.ServerFingerprintMismatch,
    )


def _transport_error(
    exc: BaseException, method: str, url: str, *, mid_body: bool = False, secret: str = ""
) -> APIConnectionError:
    detail = scrub(str(exc) or type(exc).__name__, secret)
    if isinstance(exc, aiohttp.ClientResponseError):
        # Raised here only by the response parser (we never call raise_for_status): the
        # peer answered something that is not HTTP, e.g. a wrong port. Older aiohttp
        # versions leave the message empty, so say it in words.
        detail = f"the answer is not valid HTTP ({scrub(exc.message, secret) or 'unparseable'})"
    where = "while reading the response body" if mid_body else "before an answer"
    if isinstance(exc, asyncio.TimeoutError):
        kind = "connecting" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "reading"
        return APITimeoutError(
            f"{method} {url}: timed out {kind} ({where}): {detail}", method=method, url=url
        )
    return APIConnectionError(
        f"{method} {url}: connection failed {where}: {type(exc).__name__}: {detail}",
        method=method,
        url=url,
    )


# --------------------------------------------------------------------------- client


ConnectorFactory = Callable[[], aiohttp.BaseConnector]
"""Makes the connector of each event loop's session (SSL contexts, limits, resolvers...)."""


class HTTPClient:
    """Sends API requests on whichever event loop calls it, one session per loop.

    Each loop's session is made on first use and kept by the client's runtime of that
    loop (:mod:`rxbatches._rx.runtime`), which closes it with the client, or with the
    loop when ``asyncio.run`` shuts it down. A request that fails because the client
    was closed under it ends in :class:`~rxbatches.ClientClosedError`, never retried.
    """

    def __init__(
        self,
        options: ClientOptions,
        runtimes: Runtimes,
        connector_factory: ConnectorFactory | None = None,
    ) -> None:
        self.options = options
        self.runtimes = runtimes
        self._connector_factory = connector_factory
        self._base_headers = {
            "x-api-key": options.api_key,
            "anthropic-version": ANTHROPIC_VERSION,
            "user-agent": USER_AGENT,
        }

    def __repr__(self) -> str:
        return f"<HTTPClient {self.options.base_url} {self.runtimes!r}>"

    # ----------------------------------------------------------------- sessions

    async def _session(self) -> tuple[Runtime, aiohttp.ClientSession]:
        runtime = self.runtimes.current()
        session = runtime.session
        if isinstance(session, aiohttp.ClientSession) and not session.closed:
            return runtime, session
        connector = self._connector_factory() if self._connector_factory is not None else None
        # trust_env stays off: the proxy was resolved from the environment once, by
        # ClientOptions, and aiohttp's own reading would also pick up ~/.netrc.
        session = aiohttp.ClientSession(
            headers=self._base_headers,
            auto_decompress=True,
            trust_env=False,
            connector=connector,
        )
        await runtime.attach_session(session)
        return runtime, session

    # ----------------------------------------------------------------- requests

    def _url(self, path: str) -> str:
        return self.options.base_url + path

    def _headers(self, options: EffectiveOptions, *, body: bool, accept: str) -> dict[str, str]:
        headers = {"accept": accept}
        if body:
            headers["content-type"] = "application/json"
        headers.update(options.extra_headers)
        return headers

    async def request(
        self,
        method: str,
        path: str,
        parser: Callable[[RawResponse[T]], T],
        *,
        options: EffectiveOptions,
        query: Mapping[str, str] | None = None,
        body: bytes | FileBody | None = None,
        create: bool = False,
        request_count: int | None = None,
    ) -> RawResponse[T]:
        """Send a request (with retries) and read its whole body.

        Args:
            method: The HTTP method.
            path: The path under the base URL, already percent-encoded.
            parser: Decodes the body when :meth:`RawResponse.parse` is called.
            options: The effective options of this request.
            query: Query parameters (``options.extra_query`` is added).
            body: A JSON body, already encoded, as bytes or spooled to a file (bodies
                over 1 MiB are streamed, with their ``Content-Length``).
            create: Apply the create retry policy (never risk a second batch).
            request_count: The number of requests of a create (for its error message).

        Raises:
            APIStatusError: A non-2xx answer, after retries.
            APIConnectionError: No answer, after retries.
            CreateOutcomeUnknownError: A create failed after its body may have reached
                the server (a lost connection, a timeout, a 500, 502 or 504).
        """
        url = self._url(path)
        response, content, retries = await self._send(
            method, url, options, query, body, create=create, read=True, count=request_count
        )
        return RawResponse(
            status_code=response.status,
            headers=response.headers,
            method=method,
            url=url,
            retries_taken=retries,
            content=content,
            parser=parser,
        )

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        options: EffectiveOptions,
        query: Mapping[str, str] | None = None,
        accept: str = "application/x-jsonl, application/json",
    ) -> AsyncIterator[StreamResponse]:
        """Send a request (with retries until a 2xx head arrives) and stream its body.

        The response is closed when the block exits, on every path; leaving before the
        end of the body closes that connection instead of returning it to the pool. A
        failure in the middle of the body is not retried (the caller has seen part of it).
        """
        url = self._url(path)
        response, _, retries = await self._send(
            method, url, options, query, None, create=False, read=False, accept=accept
        )
        try:
            yield StreamResponse(
                response, url=url, retries_taken=retries, secret=self.options.api_key
            )
        finally:
            if response.content.at_eof():
                response.release()
            else:
                response.close()

    async def _send(
        self,
        method: str,
        url: str,
        options: EffectiveOptions,
        query: Mapping[str, str] | None,
        body: bytes | FileBody | None,
        *,
        create: bool,
        read: bool,
        accept: str = "application/json",
        count: int | None = None,
    ) -> tuple[aiohttp.ClientResponse, bytes | None, int]:
        runtime, session = await self._session()
        headers = self._headers(options, body=body is not None, accept=accept)
        streamed = isinstance(body, FileBody) or (body is not None and len(body) > _LARGE_BODY)
        if streamed and body is not None:
            headers["content-length"] = str(body.size if isinstance(body, FileBody) else len(body))
        params = {**(query or {}), **options.extra_query}
        read_timeout = options.timeout
        if read_timeout is not None and math.isinf(read_timeout):
            read_timeout = None  # NO_TIMEOUT
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=options.connect_timeout, sock_read=read_timeout
        )
        proxy = self.options.proxy
        secret = self.options.api_key
        retries = 0
        while True:
            response: aiohttp.ClientResponse | None = None
            sent_at = datetime.now(UTC)
            # A streamed body gets a fresh reader per attempt, from its first byte.
            data: object = body
            if isinstance(body, FileBody):
                data = body.stream()
            elif streamed and body is not None:
                data = _slices(body)
            try:
                response = await session.request(
                    method,
                    url,
                    params=params or None,
                    data=data,
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                    proxy=proxy,
                )
                if 200 <= response.status < 300:
                    content = await response.read() if read else None
                    return response, content, retries
                error: APIError = status_error(
                    response.status,
                    response.reason or "",
                    response.headers,
                    await response.read(),
                    method,
                    url,
                    secret,
                )
                retry = not 300 <= response.status < 400 and should_retry_status(
                    response.status, response.headers, create=create
                )
                # Only an answer proving nothing was made settles a failed create.
                unknown = response.status >= 500 and response.status not in CREATE_SAFE_STATUSES
                error_headers: Mapping[str, str] | None = response.headers
            except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
                if response is not None:
                    response.close()
                if runtime.closed:
                    # The close made it fail (e.g. "Session is closed"): never retried.
                    raise closed_error(f"{method} {url} was aborted") from None
                if isinstance(exc, RuntimeError):
                    raise
                mid_body = response is not None
                error = _transport_error(exc, method, url, mid_body=mid_body, secret=secret)
                # A create whose answer had started arriving was received by the server.
                retry = _may_retry_transport(exc, create=create) and not (create and mid_body)
                unknown = mid_body or not _proves_not_sent(exc)
                error_headers = None
            except BaseException:
                if response is not None:
                    response.close()
                raise
            if not retry or retries >= options.max_retries:
                if create and unknown:
                    raise CreateOutcomeUnknownError(error, request_count=count, sent_at=sent_at)
                raise error
            delay = retry_delay(retries, error_headers)
            log.info(
                "retrying %s %s in %.3fs (retry %d of %d): %s",
                method,
                url,
                delay,
                retries + 1,
                options.max_retries,
                error,
            )
            await asyncio.sleep(delay)
            if runtime.closed:
                raise closed_error(f"{method} {url} was not retried") from error
            retries += 1
