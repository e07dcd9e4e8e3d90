"""Fault injection: scripted misbehaviour of the emulator's endpoints.

``emu.faults.script("retrieve", Fault.status(529), Fault.reset())`` makes the next two
retrieves answer 529 and then drop the connection; later retrieves behave normally.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ENDPOINTS", "Fault", "Faults"]

ENDPOINTS = ("create", "retrieve", "list", "cancel", "delete", "results")
"""The endpoint names faults and stats are keyed by."""

FaultKind = Literal["status", "reset", "truncate", "delay"]


@dataclass(frozen=True, slots=True)
class Fault:
    """One scripted misbehaviour; build it with the class methods.

    Attributes:
        kind: ``"status"``, ``"reset"``, ``"truncate"`` or ``"delay"``.
        status_code: The status of a ``status`` fault.
        headers: Extra response headers of a ``status`` fault.
        body: The raw body of a ``status`` fault (``None``: the official error envelope).
        error_type: The envelope's ``error.type`` (``None``: the one matching the status).
        after_bytes: How many body bytes a ``truncate`` fault sends before cutting.
        seconds: How long a ``delay`` fault waits (real seconds).
    """

    kind: FaultKind
    status_code: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    error_type: str | None = None
    after_bytes: int = 0
    seconds: float = 0.0

    @classmethod
    def status(
        cls,
        code: int,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        error_type: str | None = None,
    ) -> Fault:
        """Answer with this status: the official error envelope unless ``body`` is given.

        Example:
            >>> Fault.status(529, headers={"retry-after-ms": "10"}).status_code
            529
        """
        if not 100 <= code <= 599:
            raise ValueError(f"not an HTTP status: {code}")
        return cls(
            "status",
            status_code=code,
            headers=dict(headers or {}),
            body=body,
            error_type=error_type,
        )

    @classmethod
    def reset(cls) -> Fault:
        """Close the connection without answering."""
        return cls("reset")

    @classmethod
    def truncate(cls, after_bytes: int) -> Fault:
        """Send the response head and ``after_bytes`` bytes of the body, then cut the connection.

        Meant for results; on a JSON endpoint the body is cut short of its
        ``content-length`` the same way.
        """
        if after_bytes < 0:
            raise ValueError("after_bytes must not be negative")
        return cls("truncate", after_bytes=after_bytes)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Answer normally after waiting this many real seconds."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        return cls("delay", seconds=seconds)


class Faults:
    """Per-endpoint queues of scripted faults (safe to use from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Fault]] = {name: deque() for name in ENDPOINTS}

    def script(self, endpoint: str, *faults: Fault) -> None:
        """Queue faults for the next requests to ``endpoint``, one request each, in order.

        Args:
            endpoint: ``"create"``, ``"retrieve"``, ``"list"``, ``"cancel"``,
                ``"delete"`` or ``"results"``.
            *faults: The faults, used once each.
        """
        if endpoint not in self._queues:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
        with self._lock:
            self._queues[endpoint].extend(faults)

    def pending(self, endpoint: str) -> int:
        """Return how many scripted faults wait for ``endpoint``."""
        with self._lock:
            return len(self._queues[endpoint])

    def clear(self) -> None:
        """Forget every scripted fault."""
        with self._lock:
            for queue in self._queues.values():
                queue.clear()

    def next(self, endpoint: str) -> Fault | None:
        """Take the next scripted fault for ``endpoint`` (``None``: behave normally)."""
        with self._lock:
            queue = self._queues.get(endpoint)
            return queue.popleft() if queue else None
