"""Fault injection: scripted or random misbehaviour of the emulator's endpoints.

Two ways to make an endpoint misbehave, usable together:

- a **script** of the next N responses: ``emu.faults.script("retrieve", Fault.status(529),
  Fault.reset())`` makes the next two retrieves answer 529 and then drop the connection;
  later retrieves behave normally;
- a **probability**: ``emu.faults.randomly("results", 0.1, Fault.truncate_lines(5))`` cuts
  one results download in ten, drawn from a seeded random generator
  (``Faults(seed=...)``, ``Emulator(fault_seed=...)``), so a run that sends the same
  requests in the same order meets the same faults.

A scripted fault wins over a random one. The faults: :meth:`Fault.status` (any status,
with ``retry-after`` / ``retry-after-ms`` / ``x-should-retry``), :meth:`Fault.html` (a
proxy's HTML error page), :meth:`Fault.reset` (connection closed without an answer),
:meth:`Fault.truncate` / :meth:`Fault.truncate_lines` (body cut mid-file or mid-line),
:meth:`Fault.delay` (added latency), :meth:`Fault.slow` (body trickled). Besides,
``propagation_delay`` makes a batch answer 404 for that many emulator seconds after its
create, as a freshly created batch may on the real API.

Requests inside a batch can fail too: ``error_rate`` makes each request end ``errored``
with a retryable ``api_error`` or ``overloaded_error``, and ``expire_rate`` makes it
``expired`` (never processed; its batch then ends at ``expires_at``, 24 emulator hours
after creation). The draw hashes the seed, the ``custom_id`` and how many times the
emulator has been sent that ``custom_id``, so a run meets the same failures whatever the
order of its batches, and a request sent again gets a fresh draw and may succeed.

Command line: ``python -m rxbatches emulator --fault SPEC`` (repeatable) takes
``ENDPOINT:KIND[=ARG][:PROBABILITY]`` (see :func:`parse_fault_spec`), for example
``retrieve:529:0.2``, ``results:truncate:0.1``, ``*:delay=0.5:0.05``, ``create:html=502``.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ENDPOINTS", "FAULT_KINDS", "RETRYABLE_ERRORS", "Fault", "Faults", "parse_fault_spec"]

ENDPOINTS = ("create", "retrieve", "list", "cancel", "delete", "results")
"""The endpoint names faults and stats are keyed by."""

FaultKind = Literal["status", "reset", "truncate", "delay", "slow"]

RETRYABLE_ERRORS = {
    "api_error": "Internal server error.",
    "overloaded_error": "Overloaded.",
}
"""The error kinds (and their messages) of the requests ``error_rate`` makes fail."""

RequestFault = Literal["api_error", "overloaded_error", "expired"]

_HTML_PAGE = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass(frozen=True, slots=True)
class Fault:
    """One scripted misbehaviour; build it with the class methods.

    Attributes:
        kind: ``"status"``, ``"reset"``, ``"truncate"`` or ``"delay"``.
        status_code: The status of a ``status`` fault.
        headers: Extra response headers of a ``status`` fault.
        body: The raw body of a ``status`` fault (``None``: the official error envelope).
        error_type: The envelope's ``error.type`` (``None``: the one matching the status).
        after_bytes: How many body bytes a ``truncate`` fault sends before cutting
            (``slow``: bytes per piece).
        after_lines: A ``truncate`` fault counting whole results lines instead of bytes.
        mid_line: With ``after_lines``, also send half of the next line.
        seconds: How long a ``delay`` fault waits, or a ``slow`` one between pieces
            (real seconds).
    """

    kind: FaultKind
    status_code: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    error_type: str | None = None
    after_bytes: int = 0
    after_lines: int | None = None
    mid_line: bool = False
    seconds: float = 0.0

    @classmethod
    def status(
        cls,
        code: int,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        error_type: str | None = None,
        *,
        retry_after: float | None = None,
        retry_after_ms: float | None = None,
        should_retry: bool | None = None,
    ) -> Fault:
        """Answer with this status: the official error envelope unless ``body`` is given.

        Args:
            code: The HTTP status.
            headers: Extra response headers.
            body: A raw body instead of the envelope (``content-type`` defaults to JSON).
            error_type: The envelope's ``error.type`` (default: the status's own).
            retry_after: Adds a ``retry-after`` header (seconds).
            retry_after_ms: Adds a ``retry-after-ms`` header.
            should_retry: Adds ``x-should-retry: true`` or ``false``.

        Example:
            >>> Fault.status(529, retry_after_ms=10).headers
            {'retry-after-ms': '10'}
        """
        if not 100 <= code <= 599:
            raise ValueError(f"not an HTTP status: {code}")
        extra = dict(headers or {})
        if retry_after is not None:
            extra["retry-after"] = _number(retry_after)
        if retry_after_ms is not None:
            extra["retry-after-ms"] = _number(retry_after_ms)
        if should_retry is not None:
            extra["x-should-retry"] = "true" if should_retry else "false"
        return cls(
            "status",
            status_code=code,
            headers=extra,
            body=body,
            error_type=error_type,
        )

    @classmethod
    def html(cls, code: int = 502, headers: Mapping[str, str] | None = None) -> Fault:
        """Answer with a proxy's HTML error page (``text/html``) instead of the JSON envelope.

        Args:
            code: The HTTP status.
            headers: Extra response headers (``retry-after``...).

        Example:
            >>> Fault.html(502).headers["content-type"]
            'text/html'
        """
        reason = _REASONS.get(code, "Error")
        page = _HTML_PAGE.format(code=code, reason=reason).encode()
        return cls.status(code, headers={"content-type": "text/html", **(headers or {})}, body=page)

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
    def truncate_lines(cls, lines: int, *, mid_line: bool = True) -> Fault:
        """(Results only) send ``lines`` whole lines (and half the next one), then cut.

        The cut comes before the proper end of the chunked body, so a client sees a
        connection lost, never a short but complete file. With ``mid_line`` the cut
        falls inside a line: the partial line must not reach the caller.
        """
        if lines < 0:
            raise ValueError("lines must not be negative")
        return cls("truncate", after_lines=lines, mid_line=mid_line)

    @classmethod
    def slow(cls, chunk_bytes: int = 64, interval: float = 0.01) -> Fault:
        """Answer normally but trickle the body: ``chunk_bytes`` at a time, ``interval`` apart.

        A client's per-read timeout shorter than ``interval`` then fires mid-body.
        """
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be at least 1")
        if interval < 0:
            raise ValueError("interval must not be negative")
        return cls("slow", after_bytes=chunk_bytes, seconds=interval)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Answer normally after waiting this many real seconds."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        return cls("delay", seconds=seconds)


class Faults:
    """Per-endpoint scripts and random rules of faults (safe to use from any thread).

    Args:
        seed: Seed of the generator the random rules draw from, and of the draws of
            ``error_rate`` and ``expire_rate`` (``None``: a fresh seed each run).
        propagation_delay: See the attribute.
        error_rate: See the attribute.
        expire_rate: See the attribute.

    Attributes:
        injected: How many faults were handed out per endpoint (scripted and random).
        propagation_delay: Emulator seconds a batch made by a create answers 404 to
            retrieve, cancel, delete and results (0: visible at once).
        error_rate: The probability (0 to 1) that a request of a new batch ends
            ``errored`` with ``api_error`` or ``overloaded_error`` (half each).
        expire_rate: The probability (0 to 1) that a request of a new batch ends
            ``expired``; ``error_rate + expire_rate`` may not exceed 1.
        request_faults: How many requests ``error_rate`` and ``expire_rate`` made fail,
            by kind (``"api_error"``, ``"overloaded_error"``, ``"expired"``).
    """

    def __init__(
        self,
        seed: int | None = 0,
        propagation_delay: float = 0.0,
        *,
        error_rate: float = 0.0,
        expire_rate: float = 0.0,
    ) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Fault]] = {name: deque() for name in ENDPOINTS}
        self._rules: dict[str, list[tuple[float, Fault]]] = {name: [] for name in ENDPOINTS}
        self._seed = seed
        self._rng = random.Random(seed)
        # Salt of the per-request draws; without a seed, a fresh one each run.
        self._salt = os.urandom(16).hex() if seed is None else str(seed)
        self._attempts: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.request_faults: Counter[str] = Counter()
        self.propagation_delay = _check_delay(propagation_delay)
        self.error_rate = _check_rate("error_rate", error_rate)
        self.expire_rate = _check_rate("expire_rate", expire_rate)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "propagation_delay":
            value = _check_delay(value)
        elif name in ("error_rate", "expire_rate"):
            value = _check_rate(name, value)
            other = "expire_rate" if name == "error_rate" else "error_rate"
            if hasattr(self, other):  # both set: __init__ sets error_rate first
                _check_rates(value, getattr(self, other))
        object.__setattr__(self, name, value)

    def draw_requests(self, custom_ids: list[str]) -> list[RequestFault | None] | None:
        """Draw the fate of each request of a new batch under ``error_rate`` and ``expire_rate``.

        Each draw hashes the seed, the ``custom_id`` and the number of times that
        ``custom_id`` was drawn before, so the first submission of a request always meets
        the same fate for a given seed, and its resubmission draws afresh.

        Returns:
            For each request, the error kind it fails with, ``"expired"``, or ``None``
            (no fault); ``None`` instead of a list when both rates are 0 (nothing drawn).
        """
        with self._lock:
            error_rate, expire_rate = self.error_rate, self.expire_rate
            if not error_rate and not expire_rate:
                return None
            fates: list[RequestFault | None] = []
            for custom_id in custom_ids:
                attempt = self._attempts[custom_id]
                self._attempts[custom_id] = attempt + 1
                key = f"{self._salt}\0{custom_id}\0{attempt}".encode()
                digest = hashlib.blake2b(key, digest_size=8).digest()
                draw = int.from_bytes(digest[:7]) / (1 << 56)  # uniform in [0, 1)
                fate: RequestFault | None = None
                if draw < error_rate:
                    fate = "overloaded_error" if digest[7] & 1 else "api_error"
                elif draw < error_rate + expire_rate:
                    fate = "expired"
                if fate is not None:
                    self.request_faults[fate] += 1
                fates.append(fate)
            return fates

    def script(self, endpoint: str, *faults: Fault) -> None:
        """Queue faults for the next requests to ``endpoint``, one request each, in order.

        Args:
            endpoint: ``"create"``, ``"retrieve"``, ``"list"``, ``"cancel"``,
                ``"delete"`` or ``"results"``.
            *faults: The faults, used once each.
        """
        self._check(endpoint)
        with self._lock:
            self._queues[endpoint].extend(faults)

    def randomly(self, endpoint: str, probability: float, fault: Fault) -> None:
        """Give each request to ``endpoint`` this ``probability`` of meeting ``fault``.

        Rules add up in order: a request draws once per rule of its endpoint and meets
        the first fault drawn. Draws come from the seeded generator.

        Args:
            endpoint: An endpoint name, or ``"*"`` for every endpoint.
            probability: From 0 to 1.
            fault: The fault to inject.
        """
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be from 0 to 1, got {probability!r}")
        names = ENDPOINTS if endpoint == "*" else (self._check(endpoint),)
        with self._lock:
            for name in names:
                self._rules[name].append((probability, fault))

    def pending(self, endpoint: str) -> int:
        """Return how many scripted faults wait for ``endpoint``."""
        with self._lock:
            return len(self._queues[endpoint])

    def clear(self) -> None:
        """Forget every scripted fault and random rule, reseed the generator, zero ``injected``.

        ``error_rate``, ``expire_rate`` and ``propagation_delay`` are settings and stay;
        the per-request draws start again from every request's first attempt.
        """
        with self._lock:
            for queue in self._queues.values():
                queue.clear()
            for rules in self._rules.values():
                rules.clear()
            self._rng.seed(self._seed)
            self.injected.clear()
            self._attempts.clear()
            self.request_faults.clear()

    def next(self, endpoint: str) -> Fault | None:
        """Take the next fault for ``endpoint`` (``None``: behave normally)."""
        with self._lock:
            queue = self._queues.get(endpoint)
            fault = queue.popleft() if queue else None
            if fault is None:
                for probability, rule in self._rules.get(endpoint, ()):
                    if self._rng.random() < probability:
                        fault = rule
                        break
            if fault is not None:
                self.injected[endpoint] += 1
            return fault

    def _check(self, endpoint: str) -> str:
        if endpoint not in self._queues:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
        return endpoint


def _check_delay(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"propagation_delay must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _check_rate(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability from 0 to 1, got {value!r}")
    return float(value)


def _check_rates(error_rate: float, expire_rate: float) -> None:
    if error_rate + expire_rate > 1:
        raise ValueError(
            f"error_rate + expire_rate must not exceed 1, got {error_rate} + {expire_rate}"
        )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


FAULT_KINDS = {
    "STATUS": "an error status with the official envelope (e.g. 529; =N adds retry-after: N)",
    "html": "a proxy's HTML error page (=STATUS, default 502)",
    "reset": "the connection closed without an answer",
    "truncate": "the body cut: mid-line after 5 results lines (=N: after N bytes)",
    "delay": "an answer after =SECONDS of added latency (default 1)",
    "slow": "the body trickled 64 bytes at a time, =SECONDS apart (default 0.05)",
}
"""The ``KIND`` words of a fault spec (:func:`parse_fault_spec`), with what they do."""


def parse_fault_spec(spec: str) -> tuple[str, float, Fault]:
    """Parse ``ENDPOINT:KIND[=ARG][:PROBABILITY]`` into ``(endpoint, probability, fault)``.

    ``ENDPOINT`` is an endpoint name or ``*``; ``KIND`` one of :data:`FAULT_KINDS`;
    ``PROBABILITY`` from 0 to 1 (default 1: every request).

    Raises:
        ValueError: Saying which part of the spec is wrong.

    Example:
        >>> parse_fault_spec("retrieve:529=2:0.2")
        ('retrieve', 0.2, Fault(kind='status', status_code=529, headers={'retry-after': '2'}, \
body=None, error_type=None, after_bytes=0, after_lines=None, mid_line=False, seconds=0.0))
    """
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"fault {spec!r}: expected ENDPOINT:KIND[=ARG][:PROBABILITY]")
    endpoint, kind = parts[0].strip(), parts[1].strip()
    if endpoint != "*" and endpoint not in ENDPOINTS:
        raise ValueError(
            f"fault {spec!r}: unknown endpoint {endpoint!r}; expected * or {ENDPOINTS}"
        )
    probability = 1.0
    if len(parts) == 3:
        try:
            probability = float(parts[2])
        except ValueError:
            probability = -1.0
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"fault {spec!r}: probability must be from 0 to 1")
    word, _, arg = kind.partition("=")
    try:
        fault = _build(word, arg)
    except ValueError as exc:
        raise ValueError(f"fault {spec!r}: {exc}") from None
    return endpoint, probability, fault


def _build(word: str, arg: str) -> Fault:
    def number(default: float) -> float:
        try:
            return float(arg) if arg else default
        except ValueError:
            raise ValueError(f"{word}: {arg!r} is not a number") from None

    if word.isdigit():
        return Fault.status(int(word), retry_after=number(0) if arg else None)
    if word == "html":
        return Fault.html(int(number(502)))
    if word == "reset":
        return Fault.reset()
    if word == "truncate":
        return Fault.truncate(int(number(0))) if arg else Fault.truncate_lines(5)
    if word == "delay":
        return Fault.delay(number(1.0))
    if word == "slow":
        return Fault.slow(64, number(0.05))
    raise ValueError(
        f"unknown kind {word!r}; expected a status or one of html, reset, truncate, delay, slow"
    )
