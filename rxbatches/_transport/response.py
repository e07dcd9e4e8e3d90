"""Raw responses and the errors built from non-2xx answers (no I/O here).

:class:`RawResponse` is what every operation emits first; the typed methods map its
:meth:`~RawResponse.parse` over it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from .._base.errors import APIResponseValidationError, APIStatusError, Headers, status_error_class

__all__ = ["RawResponse", "decode_body", "model_parser", "scrub", "status_error"]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_SNIPPET = 500


class RawResponse(Generic[T]):
    """One API response: its status, headers and request id, and the value it holds.

    Attributes:
        status_code: The HTTP status.
        headers: The response headers (case-insensitive).
        method: The HTTP method of the request.
        url: The URL of the request (it never contains the API key).
        retries_taken: How many times the request was retried before this answer.
        content: The body, for responses read whole; ``None`` for streamed ones.
    """

    __slots__ = (
        "_parsed",
        "_parser",
        "content",
        "headers",
        "method",
        "retries_taken",
        "status_code",
        "url",
    )

    def __init__(
        self,
        *,
        status_code: int,
        headers: Mapping[str, str],
        method: str,
        url: str,
        retries_taken: int,
        content: bytes | None,
        parser: Callable[[RawResponse[T]], T],
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.method = method
        self.url = url
        self.retries_taken = retries_taken
        self.content = content
        self._parser = parser
        self._parsed: tuple[T] | None = None

    @property
    def request_id(self) -> str | None:
        """The ``request-id`` header the API sends with every response."""
        return self.headers.get("request-id")

    def parse(self) -> T:
        """Return the value of this response, decoding it on first use.

        Raises:
            APIResponseValidationError: The body is not what the API promises.
        """
        if self._parsed is None:
            self._parsed = (self._parser(self),)
        return self._parsed[0]

    def __repr__(self) -> str:
        return f"<RawResponse {self.method} {self.url} {self.status_code}>"


def model_parser(model: type[M]) -> Callable[[RawResponse[M]], M]:
    """Return a parser validating a response's JSON body as ``model``."""

    def parse(raw: RawResponse[M]) -> M:
        content = raw.content or b""
        try:
            return model.model_validate_json(content)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            # Naming the content type tells "a proxy answered" (text/html) from an API bug.
            kind = raw.headers.get("content-type") or "no content-type"
            raise APIResponseValidationError(
                f"the response to {raw.method} {raw.url} is not a valid {model.__name__}"
                f" ({where}: {first['msg']}; {kind}); request-id {raw.request_id}",
                status_code=raw.status_code,
                body=decode_body(content),
                method=raw.method,
                url=raw.url,
            ) from None

    return parse


def decode_body(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (UnicodeDecodeError, ValueError):
        return content.decode("utf-8", "replace")


def status_error(
    status: int,
    reason: str,
    headers: Mapping[str, str],
    content: bytes,
    method: str,
    url: str,
    secret: str,
) -> APIStatusError:
    headers = Headers(headers)  # read case-insensitively whatever mapping came in
    body = decode_body(content)
    error = body.get("error") if isinstance(body, dict) else None
    message: str
    if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]:
        message = error["message"]
    elif isinstance(body, str) and body.strip():
        message = body.strip()[:_SNIPPET]
    else:
        message = reason or "error"
    if 300 <= status < 400:
        message = (
            f"unexpected redirect to {headers.get('location')!r}: rxbatches does not follow"
            " redirects, so that the API key is only sent to the configured base URL"
        )
    request_id = headers.get("request-id")
    if request_id is None and isinstance(body, dict) and isinstance(body.get("request_id"), str):
        request_id = body["request_id"]
    return status_error_class(status)(
        scrub(message, secret),
        status_code=status,
        request_id=request_id,
        body=body,
        headers=headers,
        method=method,
        url=url,
    )


def scrub(text: str, secret: str) -> str:
    """Mask the API key in ``text`` as a token, not as a part of other words.

    Keys are made of ``[A-Za-z0-9_-]``: an occurrence is masked where it is not run
    into more of those characters, so the key inside a URL, a header or a JSON string
    is masked, but a short key such as ``loo`` leaves ``loop`` alone. A key of 16
    characters or more cannot be part of an ordinary word, so it is masked wherever
    it appears, even run into other characters: no part of a real key ever shows.
    """
    import re

    if not secret:
        return text
    if len(secret) >= 16:
        return text.replace(secret, "<redacted>")
    key = "A-Za-z0-9_-"
    return re.sub(f"(?<![{key}]){re.escape(secret)}(?![{key}])", "<redacted>", text)
