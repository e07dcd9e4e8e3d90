"""The errors rxbatches raises or sends to ``on_error``.

::

    RxBatchesError
    ├── CreateValidationError (ValueError)     bad create input, caught before sending
    └── APIError
        ├── APIStatusError                     a non-2xx answer
        │   ├── BadRequestError                400
        │   ├── AuthenticationError            401
        │   ├── PermissionDeniedError          403
        │   ├── NotFoundError                  404
        │   ├── ConflictError                  409
        │   ├── RequestTooLargeError           413
        │   ├── UnprocessableEntityError       422
        │   ├── RateLimitError                 429
        │   └── InternalServerError            >= 500
        │       └── OverloadedError            529
        ├── APIConnectionError (ConnectionError)
        │   ├── APITimeoutError (TimeoutError)
        │   └── ClientClosedError              the client was closed under the request
        ├── APIResponseValidationError         a 2xx body that is not what the API promises
        │   └── ResultLineError                a results line that is bad JSON or not a result
        └── CreateOutcomeUnknownError          a create that may or may not have made a batch

Every :class:`APIStatusError` carries ``status_code``, ``request_id``, the parsed
``body`` and the response ``headers``. Error messages never contain the API key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "CreateOutcomeUnknownError",
    "CreateValidationError",
    "InternalServerError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ResultLineError",
    "RxBatchesError",
    "UnprocessableEntityError",
    "status_error_class",
]


class RxBatchesError(Exception):
    """Base of every error this library raises."""


class Headers(Mapping[str, str]):
    """Response headers kept by an error: read-only, and case-insensitive as HTTP's.

    ``headers.get("Request-Id")`` finds a ``request-id`` header, as on
    :attr:`RawResponse.headers <rxbatches.RawResponse.headers>`. Iteration gives each
    name once, as the server spelled it; a repeated header keeps its first value (what
    ``RawResponse.headers[name]`` gives). Picklable (an error can cross a process
    boundary), and its repr names the headers without their values, so that an error
    logged with ``%r`` shows no cookie nor a key a proxy echoed back.

    Example:
        >>> headers = Headers({"Request-Id": "req_1", "content-type": "text/html"})
        >>> headers.get("request-id"), headers["Content-Type"], "REQUEST-ID" in headers
        ('req_1', 'text/html', True)
        >>> headers
        <Headers Request-Id, content-type>
    """

    __slots__ = ("_by_name",)

    def __init__(self, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        """Copy ``headers`` (a mapping, a multidict, or ``(name, value)`` pairs)."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        by_name: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            by_name.setdefault(name.lower(), (name, value))
        self._by_name = by_name

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        return self._by_name[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"<Headers {', '.join(self)}>"

    def __reduce__(self) -> tuple[type[Headers], tuple[list[tuple[str, str]]]]:
        return (Headers, (list(self._by_name.values()),))


class CreateValidationError(RxBatchesError, ValueError):
    """A create request breaks one of the API's rules; nothing was sent.

    Attributes:
        index: The position of the offending request, or ``None`` for a rule about
            the whole body (the number of requests, the body size).
        field: The field that breaks the rule, as a dotted path
            (``"requests[3].custom_id"``).
        rule: The rule, in words.
    """

    def __init__(self, field: str, rule: str, *, index: int | None = None) -> None:
        self.index = index
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class APIError(RxBatchesError):
    """Base of every error about a request to the API."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url


class APIStatusError(APIError):
    """The API answered with a non-2xx status.

    Attributes:
        status_code: The HTTP status.
        request_id: The ``request-id`` header (or the body's ``request_id``).
        body: The decoded JSON body, or the text when it was not JSON.
        headers: The response headers (read-only, case-insensitive: see :class:`Headers`).
        error_type: The ``error.type`` of the envelope (``"not_found_error"``...), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        method: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        self.headers: Mapping[str, str] = Headers(headers or {})
        error = body.get("error") if isinstance(body, dict) else None
        self.error_type: str | None = error.get("type") if isinstance(error, dict) else None

    def __str__(self) -> str:
        rid = f" (request-id {self.request_id})" if self.request_id else ""
        return f"{self.status_code} {self.message}{rid}"


class BadRequestError(APIStatusError):
    """400: the request was malformed (``invalid_request_error``)."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or invalid."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this."""


class NotFoundError(APIStatusError):
    """404: no such batch (or the batch is not visible yet)."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state."""


class RequestTooLargeError(APIStatusError):
    """413: the request body is over 256 MB."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well-formed but could not be processed."""


class RateLimitError(APIStatusError):
    """429: too many requests."""


class InternalServerError(APIStatusError):
    """500 and above: the server failed."""


class OverloadedError(InternalServerError):
    """529: the API is overloaded."""


class APIConnectionError(APIError, ConnectionError):
    """The request did not get an answer: refused, reset, or cut off mid-body."""


class APITimeoutError(APIConnectionError, TimeoutError):
    """No bytes arrived within the read timeout."""


class ClientClosedError(APIConnectionError):
    """The client was closed: before this subscription started, or while it ran.

    Every subscription alive when :meth:`~rxbatches.Client.close` (or ``aclose``, or the
    end of a ``with`` block) runs ends with exactly one of these, and every later
    subscription fails with one at once. A request interrupted by the close is never
    retried. A create interrupted this way may or may not have made a batch: look for it
    with ``client.messages.batches.list()`` before creating it again.
    """


class APIResponseValidationError(APIError):
    """A 2xx response whose body is not what the API promises (bad JSON, wrong shape)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 200,
        body: Any = None,
        method: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status_code = status_code
        self.body = body


class ResultLineError(APIResponseValidationError):
    """A line of a results stream that is not valid JSON or not a valid result.

    The message reads ``results line 17: <what is wrong>; line: '<its first 200
    characters>'``; ``body`` holds the offending line (bytes).

    Attributes:
        line_number: The 1-based physical line number of the offending line, blank lines
            counted (what an editor shows).
    """

    def __init__(
        self,
        message: str,
        *,
        line_number: int,
        status_code: int = 200,
        body: Any = None,
        method: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message, status_code=status_code, body=body, method=method, url=url)
        self.line_number = line_number


class CreateOutcomeUnknownError(APIError):
    """A create failed in a way that does not tell whether the batch was made.

    The body may have reached the server: the connection was lost or timed out after
    it was sent, or the answer was a server error (500, 502, 504...) that does not
    prove nothing was created. Retrying blindly could make two batches, so rxbatches
    does not: check first, with ``client.messages.batches.list(limit=...)``, for a
    batch created at or after :attr:`sent_at` holding :attr:`request_count` requests.

    Attributes:
        cause: The failure itself (an :class:`APIConnectionError` or an
            :class:`APIStatusError`); also the ``__cause__``.
        request_count: How many requests the create held (``None`` if unknown).
        sent_at: When the create was sent (UTC), to find the batch by its
            ``created_at``.
    """

    def __init__(self, cause: APIError, *, request_count: int | None, sent_at: datetime) -> None:
        self.cause = cause
        self.request_count = request_count
        self.sent_at = sent_at
        holding = f" holding {request_count} requests" if request_count is not None else ""
        message = (
            f"the create may or may not have made a batch ({cause}). Do not simply retry:"
            " list recent batches (client.messages.batches.list(limit=20)) and look for a"
            f" batch created at or after {sent_at.isoformat(timespec='seconds')}{holding}"
            " before creating it again"
        )
        super().__init__(message, method=cause.method, url=cause.url)
        self.__cause__ = cause


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    529: OverloadedError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """Return the error class for an HTTP status (``APIStatusError`` when none fits)."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return InternalServerError
    return APIStatusError
