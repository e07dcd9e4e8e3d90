"""The one place where the library moves blocking or CPU-heavy work off an event loop.

A loop that embeds rxbatches (a UI, a server) is shared: validating and encoding a
create body, cutting a job into batches, reading its input file and spooling bodies
run in a worker thread through :func:`off_loop`, so the loop keeps answering.

A worker thread alone is not enough under the GIL: one C call that runs for seconds
(pydantic validating 100,000 requests at once) holds the GIL, and the loop with it,
for all that time. The work handed to :func:`off_loop` is therefore cut into slices
(:data:`SLICE` requests each) with Python code between them, where the interpreter
hands the GIL back to the loop's thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["SLICE", "off_loop"]

P = ParamSpec("P")
T = TypeVar("T")

SLICE = 50
"""Requests validated or encoded by one C call.

A slice holds the GIL for about a millisecond, and few enough objects live at once
(a few hundred) that they die before a collection promotes them: measured on 100,000
requests, slices of 500 set off 9 full collections (70 ms each, over the caller's
requests) and 1,460 young ones, slices of 50 none; the time fell from 1.7 to 1.5 s.
"""


async def off_loop(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` in a worker thread and await its result on this loop.

    Cancelling the awaiting task does not stop ``fn``: work that can be long checks a
    flag of its own (see :meth:`rxbatches._jobs.input.Chunker.close`).
    """
    return await asyncio.to_thread(fn, *args, **kwargs)
