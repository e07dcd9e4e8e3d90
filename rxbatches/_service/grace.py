"""The 404 grace of a batch just created: it may not be visible everywhere yet.

The API can answer 404 about a batch for a moment after the create that made it. The
service remembers the batches its client created (:class:`CreatedBatches`); an
operation on one of them that gets a 404 less than ``not_found_grace`` seconds after
the create asks again (0.1 s, then twice as long each time, at most 1 s apart) until
that window ends, then reports the 404. A 404 about any other id is reported at once:
asking again would only delay the error of a mistyped id. ``watch`` has its own,
wider rule (see :func:`rxbatches._service.operations.watch`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar

from .._base.clock import SYSTEM_CLOCK, Clock
from .._base.errors import NotFoundError

__all__ = [
    "MAX_REMEMBERED",
    "CreatedBatches",
    "GraceWindow",
    "grace_delay",
    "until_found",
    "until_found_stream",
]

T = TypeVar("T")

log = logging.getLogger("rxbatches")

MAX_REMEMBERED = 10_000
"""At most this many recent creates are remembered (about 100 bytes each)."""

_FIRST_DELAY = 0.1
_MAX_DELAY = 1.0


def grace_delay(misses: int, remaining: float) -> float:
    """Seconds to wait before asking again after ``misses`` 404s: 0.1, 0.2, 0.4... <= 1 s.

    Never past the end of the window (``remaining`` seconds from now).
    """
    return min(_FIRST_DELAY * 2.0**misses, _MAX_DELAY, remaining)


class CreatedBatches:
    """The batches this client created recently, with the monotonic time of each create.

    Thread-safe (a client serves several event loops) and bounded: an entry is dropped
    once it is older than the longest grace window it can still matter to (the
    client's, or a longer one a create was made with), and only the newest
    ``max_entries`` are kept.

    Args:
        horizon: Seconds an entry is kept at least (the client's ``not_found_grace``).
        max_entries: How many creates are remembered at most.
        clock: The clock of the creates, and of the grace windows that count from them
            (their waits included).
    """

    def __init__(
        self,
        horizon: float = 0.0,
        *,
        max_entries: int = MAX_REMEMBERED,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._horizon = horizon
        self._max_entries = max_entries
        self._clock = clock
        self._created: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._created)

    def __repr__(self) -> str:
        return f"<CreatedBatches {len(self._created)} remembered, horizon {self._horizon} s>"

    def add(self, batch_id: str, grace: float) -> None:
        """Remember that this client just created ``batch_id`` (with that grace in effect)."""
        now = self._clock.now()
        with self._lock:
            self._horizon = max(self._horizon, grace)
            self._created[batch_id] = now
            self._created.move_to_end(batch_id)
            # Entries arrive in time order: the stale ones are at the front.
            created = self._created
            while created:
                oldest = next(iter(created.values()))
                if len(created) <= self._max_entries and now - oldest <= self._horizon:
                    break
                created.popitem(last=False)

    def forget(self, batch_id: str) -> None:
        """Drop ``batch_id`` (deleted: a 404 about it is final from now on)."""
        with self._lock:
            self._created.pop(batch_id, None)

    def created_at(self, batch_id: str) -> float | None:
        """The clock time of the create of ``batch_id``, if this client made it recently."""
        with self._lock:
            return self._created.get(batch_id)

    @property
    def clock(self) -> Clock:
        """The registry's clock."""
        return self._clock


class GraceWindow:
    """The grace of one operation on one batch: when it ends, and how many 404s were met.

    The one mechanism behind every "ask again on a 404 for a while": after a create of
    this client (:meth:`after_create`), or from the first 404 of a watch
    (:meth:`from_first_404`).
    It reads the time and waits on its :class:`~rxbatches._base.clock.Clock` only.
    """

    def __init__(
        self,
        batch_id: str,
        start: float | None,
        grace: float,
        clock: Clock,
        since: str | None,
        *,
        from_first_404: bool = False,
    ) -> None:
        self.batch_id = batch_id
        # Fixed at the start: a create remembered or forgotten later changes nothing here.
        self.start = start
        self.deadline = None if start is None else start + grace
        self.misses = 0
        self._grace = grace
        self._from_first_404 = from_first_404
        self._clock = clock
        self._since = since  # what the window counts from, named in the final 404

    @classmethod
    def after_create(
        cls, created: CreatedBatches | None, batch_id: str, grace: float
    ) -> GraceWindow:
        """From this client's create of ``batch_id``; no window for a batch it did not create."""
        if created is None:
            return cls(batch_id, None, grace, SYSTEM_CLOCK, None)
        start = created.created_at(batch_id) if grace > 0 else None
        return cls(batch_id, start, grace, created.clock, "after this client created it")

    @classmethod
    def from_first_404(
        cls, batch_id: str, grace: float, clock: Clock = SYSTEM_CLOCK
    ) -> GraceWindow:
        """From the first 404, for any batch (a watch: it may have been created elsewhere).

        Counting from the first answer, not from the call, keeps a slow first request
        (a cold connection, a loaded machine) from using up the window.
        """
        return cls(batch_id, None, grace, clock, None, from_first_404=True)

    async def absorb(self, exc: NotFoundError) -> None:
        """Wait before asking again, or raise the 404 once the window is over."""
        now = self._clock.now()
        if self._from_first_404 and self.start is None:
            self.start, self.deadline = now, now + self._grace
        if self.start is None or self.deadline is None:
            raise exc
        remaining = self.deadline - now
        if remaining <= 0:
            if not self.misses or self._since is None:
                raise exc
            raise _after_grace(exc, now - self.start, self.misses, self._since) from None
        delay = grace_delay(self.misses, remaining)
        self.misses += 1
        log.info(
            "batch %s not found %.3fs into its grace window: asking again in %.3fs: %s",
            self.batch_id,
            now - self.start,
            delay,
            exc,
        )
        await self._clock.sleep(delay)


def _after_grace(exc: NotFoundError, waited: float, misses: int, since: str) -> NotFoundError:
    return type(exc)(
        f"{exc.message} (asked {misses + 1} times during the {waited:.1f} s {since})",
        status_code=exc.status_code,
        request_id=exc.request_id,
        body=exc.body,
        headers=exc.headers,
        method=exc.method,
        url=exc.url,
    )


async def until_found(
    created: CreatedBatches | None,
    batch_id: str,
    grace: float,
    attempt: Callable[[], Awaitable[T]],
) -> T:
    """Await ``attempt()``, asking again on a 404 while the batch is in its grace window.

    Raises:
        NotFoundError: At once for a batch this client did not create recently, else
            once the window from its create is over.
    """
    window = GraceWindow.after_create(created, batch_id, grace)
    while True:
        try:
            return await attempt()
        except NotFoundError as exc:
            await window.absorb(exc)


async def until_found_stream(
    created: CreatedBatches | None,
    batch_id: str,
    grace: float,
    attempts: Callable[[], AsyncGenerator[T, None]],
) -> AsyncGenerator[T, None]:
    """Yield the items of ``attempts()``, started again on a 404 before its first item.

    A 404 after the first item is the stream's own business, reported as is.

    Raises:
        NotFoundError: As :func:`until_found`.
    """
    window = GraceWindow.after_create(created, batch_id, grace)
    while True:
        stream = attempts()
        try:
            first = await anext(stream)
        except StopAsyncIteration:
            return
        except NotFoundError as exc:
            await stream.aclose()
            await window.absorb(exc)
            continue
        except BaseException:
            await stream.aclose()
            raise
        break
    async with contextlib.aclosing(stream):
        yield first
        del first  # hold no delivered item while the next one is produced
        async for item in stream:
            yield item
            del item
