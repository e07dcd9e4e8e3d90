"""A tiny synchronous HTTP client for the emulator, for hypothesis' sync machinery.

It speaks the wire protocol directly (stdlib ``http.client`` over one keep-alive
connection) so property tests see the raw status, headers and JSON bodies, and so
thousands of requests per test stay cheap.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.conftest import API_KEY

API_VERSION = "2023-06-01"
BATCHES = "/v1/messages/batches"


@dataclass(frozen=True)
class WireResponse:
    """What the emulator answered: status, headers (lower-cased names) and raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WireClient:
    """Sends requests to one emulator over a single persistent connection."""

    def __init__(self, base_url: str, *, api_key: str | None = API_KEY) -> None:
        parts = urlsplit(base_url)
        assert parts.hostname is not None
        assert parts.port is not None
        self._host = parts.hostname
        self._port = parts.port
        self._api_key = api_key
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> WireResponse:
        sent = {"anthropic-version": API_VERSION}
        if self._api_key is not None:
            sent["x-api-key"] = self._api_key
        if body is not None:
            sent["content-type"] = "application/json"
        sent.update(headers or {})
        target = path + ("?" + urlencode(dict(query)) if query else "")
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=30)
        try:
            self._conn.request(method, target, body=body, headers=sent)
            response = self._conn.getresponse()
            data = response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return WireResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, data)

    # -- the six operations, answering the raw response ------------------------------

    def create(self, requests: Sequence[Mapping[str, Any]]) -> WireResponse:
        return self.request("POST", BATCHES, body=json.dumps({"requests": requests}).encode())

    def retrieve(self, batch_id: str) -> WireResponse:
        return self.request("GET", f"{BATCHES}/{batch_id}")

    def list(self, **query: str | int) -> WireResponse:
        return self.request("GET", BATCHES, query=query)

    def cancel(self, batch_id: str) -> WireResponse:
        return self.request("POST", f"{BATCHES}/{batch_id}/cancel")

    def delete(self, batch_id: str) -> WireResponse:
        return self.request("DELETE", f"{BATCHES}/{batch_id}")

    def results(self, batch_id: str) -> WireResponse:
        return self.request("GET", f"{BATCHES}/{batch_id}/results")


def simple_request(custom_id: str, prompt: str = "Hello", **params: Any) -> dict[str, Any]:
    """One valid batched request in wire shape."""
    return {
        "custom_id": custom_id,
        "params": {
            "model": "claude-haiku-4-5",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": prompt}],
            **params,
        },
    }
