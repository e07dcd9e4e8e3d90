"""The retry policy of the official SDKs, as pure functions (no I/O here).

- idempotent requests (everything but create) are retried on connection errors,
  timeouts, 408, 409, 429 and >= 500; 404 and other 4xx are not;
- a create is retried only when the failure proves no batch was made: the connection
  could not be opened, or the answer is 429, 503 or 529. A timeout, a reset after the
  body went out, or a 500 is ambiguous and surfaces as is, so a retry never makes two
  batches;
- an ``x-should-retry: false`` header always stops retrying; ``x-should-retry: true``
  forces a retry, except for a create (it does not prove nothing was created) and a
  404 (never retried);
- the delay is ``min(0.5 * 2**n, 8.0)`` seconds times a jitter in [0.75, 1], unless the
  answer carries ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), which
  win, capped at :data:`MAX_RETRY_AFTER` seconds.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping

__all__ = ["CREATE_SAFE_STATUSES", "MAX_RETRY_AFTER", "retry_delay", "should_retry_status"]

MAX_RETRY_AFTER = 60.0
"""Longest wait a ``retry-after`` header can impose, in seconds: a server asking for
more is waited on for this long, then the request is tried again."""

CREATE_SAFE_STATUSES = frozenset({429, 503, 529})
"""Answers to a create that prove no batch was made: rate limited, unavailable, overloaded."""

_INITIAL_DELAY = 0.5
_MAX_DELAY = 8.0


def should_retry_status(status: int, headers: Mapping[str, str], *, create: bool) -> bool:
    """Whether an error answer may be retried (the policy of the module docstring)."""
    flag = headers.get("x-should-retry", "").strip().lower()
    if flag == "false" or status == 404:
        # 404 is never retried, whatever the header says (the reference); a batch just
        # created that is not visible yet is handled by the not_found_grace window.
        return False
    if create:
        return status in CREATE_SAFE_STATUSES
    if flag == "true":
        return True
    return status in (408, 409, 429) or status >= 500


def _retry_after(headers: Mapping[str, str] | None, now: float) -> float | None:
    if not headers:
        return None
    value: float | None = None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = None
    if value is None and (after := headers.get("retry-after")) is not None:
        try:
            value = float(after)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(after)
            except (TypeError, ValueError, IndexError):
                return None
            value = max(0.0, when.timestamp() - now)
    if value is None or math.isnan(value) or value < 0:
        return None
    return min(value, MAX_RETRY_AFTER)


def retry_delay(
    retries_taken: int,
    headers: Mapping[str, str] | None = None,
    *,
    rng: Callable[[], float] = random.random,
    now: Callable[[], float] = time.time,
) -> float:
    """Seconds to wait before retry number ``retries_taken + 1``.

    A ``retry-after-ms`` or ``retry-after`` header wins (capped at
    :data:`MAX_RETRY_AFTER`); otherwise ``min(0.5 * 2**n, 8.0)`` times a jitter in
    [0.75, 1].
    """
    after = _retry_after(headers, now())
    if after is not None:
        return after
    return min(_INITIAL_DELAY * 2.0**retries_taken, _MAX_DELAY) * (1.0 - 0.25 * rng())
