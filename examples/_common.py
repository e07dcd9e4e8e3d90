"""What the examples share: which API they talk to, and the requests they send.

By default every example starts the embedded emulator (:mod:`rxbatches.emulator`) on
127.0.0.1 and points its :class:`~rxbatches.Client` there, so it runs offline, for free,
in seconds. To run one against the real Message Batches API instead::

    RXBATCHES_USE_REAL_API=1 ANTHROPIC_API_KEY=sk-ant-... python examples/<example>.py

``ANTHROPIC_BASE_URL`` is honoured too, ``RXBATCHES_EXAMPLE_MODEL`` picks the model
(default :data:`DEFAULT_MODEL`) and ``RXBATCHES_EXAMPLE_POLL_INTERVAL`` the seconds between
two polls of a batch. Real batches cost money and may take minutes to hours
to end: on the real API the examples send a few dozen requests at most, and poll every
:data:`REAL_POLL_INTERVAL` seconds.

This module is not an example itself; the scripts import it as ``_common`` (Python puts
a script's own folder first on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from rxbatches import Client
from rxbatches.emulator import Emulator, EmulatorThread

__all__ = [
    "DEFAULT_MODEL",
    "EMULATOR_POLL_INTERVAL",
    "REAL_POLL_INTERVAL",
    "Target",
    "connect",
    "connect_async",
    "make_request",
    "make_requests",
    "sized",
    "uses_real_api",
]

USE_REAL_API_VAR = "RXBATCHES_USE_REAL_API"
MODEL_VAR = "RXBATCHES_EXAMPLE_MODEL"
POLL_INTERVAL_VAR = "RXBATCHES_EXAMPLE_POLL_INTERVAL"
DEFAULT_MODEL = "claude-haiku-4-5"
EMULATOR_POLL_INTERVAL = 0.05
REAL_POLL_INTERVAL = 30.0

# The emulator processes each request in 20 ms of its clock, 10 at a time: a batch of a
# few hundred requests ends in well under a second, yet watch() still sees it progress.
_EMULATOR_DEFAULTS: dict[str, Any] = {"request_latency": 0.02, "concurrency": 10}


def uses_real_api() -> bool:
    """Whether the environment asks for the real API (``RXBATCHES_USE_REAL_API=1``)."""
    return os.environ.get(USE_REAL_API_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def sized(emulator: int, real: int) -> int:
    """A request count: ``emulator`` offline, the smaller ``real`` on the real (paid) API."""
    return real if uses_real_api() else emulator


def _real_poll_interval() -> float:
    return float(os.environ.get(POLL_INTERVAL_VAR, REAL_POLL_INTERVAL))


def _check_real_api() -> None:
    if not os.environ.get("ANTHROPIC_API_KEY"):
        raise SystemExit(f"{USE_REAL_API_VAR}=1 needs ANTHROPIC_API_KEY in the environment")


@dataclass(frozen=True)
class Target:
    """The API an example talks to.

    Attributes:
        client: A client pointed at the emulator, or at the real API.
        emulator: The running emulator (its ``faults``, ``stats``...), or ``None`` on
            the real API: examples that inject faults skip that part there.
        poll_interval: Seconds between two polls of ``watch``: short on the emulator,
            :data:`REAL_POLL_INTERVAL` on the real API.
    """

    client: Client
    emulator: Emulator | EmulatorThread | None
    poll_interval: float


@contextlib.contextmanager
def connect(*, max_retries: int = 2, **emulator_options: Any) -> Iterator[Target]:
    """Start the emulator in a thread (or pick the real API) and yield a client for it.

    For synchronous examples. The client and the emulator are closed on exit.

    Args:
        max_retries: The client's retries after a failed attempt.
        **emulator_options: Keyword arguments of :class:`~rxbatches.emulator.Emulator`
            overriding the examples' defaults (ignored on the real API).
    """
    if uses_real_api():
        _check_real_api()
        with Client(max_retries=max_retries) as client:
            yield Target(client, None, _real_poll_interval())
        return
    with (
        EmulatorThread(**{**_EMULATOR_DEFAULTS, **emulator_options}) as emulator,
        Client(api_key="emulator-key", base_url=emulator.base_url, max_retries=max_retries) as c,
    ):
        yield Target(c, emulator, EMULATOR_POLL_INTERVAL)


@contextlib.asynccontextmanager
async def connect_async(*, max_retries: int = 2, **emulator_options: Any) -> AsyncIterator[Target]:
    """The asyncio form of :func:`connect`: the emulator serves on the running loop."""
    if uses_real_api():
        _check_real_api()
        async with Client(max_retries=max_retries) as client:
            yield Target(client, None, _real_poll_interval())
        return
    async with (
        Emulator(**{**_EMULATOR_DEFAULTS, **emulator_options}) as emulator,
        Client(api_key="emulator-key", base_url=emulator.base_url, max_retries=max_retries) as c,
    ):
        yield Target(c, emulator, EMULATOR_POLL_INTERVAL)


_TOPICS = (
    "the tides",
    "photosynthesis",
    "a binary search",
    "the water cycle",
    "why the sky is blue",
    "a hash table",
    "plate tectonics",
    "the Doppler effect",
)


def make_request(index: int, *, prefix: str = "q", max_tokens: int = 64) -> dict[str, Any]:
    """Build one small batch request, as a plain dict of the wire shape.

    Args:
        index: Its number: the ``custom_id`` is ``f"{prefix}-{index:04d}"``.
        prefix: The start of the ``custom_id``.
        max_tokens: The answer length limit.
    """
    topic = _TOPICS[index % len(_TOPICS)]
    return {
        "custom_id": f"{prefix}-{index:04d}",
        "params": {
            "model": os.environ.get(MODEL_VAR, DEFAULT_MODEL),
            "max_tokens": max_tokens,
            "messages": [
                {
                    "role": "user",
                    "content": f"In one sentence, explain {topic} (#{index}).",
                }
            ],
        },
    }


def make_requests(count: int, *, prefix: str = "q", max_tokens: int = 64) -> list[dict[str, Any]]:
    """Build ``count`` small batch requests (see :func:`make_request`)."""
    return [make_request(i, prefix=prefix, max_tokens=max_tokens) for i in range(count)]
