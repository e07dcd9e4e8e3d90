"""An offline emulator of the Message Batches API (aiohttp.web on 127.0.0.1).

It serves the six batch endpoints with the official bodies, statuses and error
envelopes; batches move through their lifecycle on an emulator clock (real time,
scaled, or a :class:`ManualClock` for step-by-step tests); outcomes come from a
pluggable responder, and faults can be scripted per endpoint.

Example:
    .. code-block:: python

        from rxbatches.emulator import Emulator, Fail, Fault, ManualClock, default_responder

        def responder(request):
            if request.custom_id.startswith("bad"):
                return Fail("invalid_request_error", "rejected by the test")
            return default_responder(request)

        clock = ManualClock()
        async with Emulator(clock=clock, responder=responder) as emu:
            ...  # point a client at emu.base_url, with any non-empty API key
            clock.advance(60)  # every small batch has ended now
            emu.faults.script("retrieve", Fault.status(529, headers={"retry-after-ms": "10"}))

From the command line: ``python -m rxbatches emulator --port 8787``.
"""

from ._app import EmulatorStats
from ._clock import Clock, ManualClock, ScaledClock
from ._faults import Fault, Faults
from ._responders import Fail, Outcome, Responder, Succeed, default_message, default_responder
from ._runner import Emulator, EmulatorThread

__all__ = [
    "Clock",
    "Emulator",
    "EmulatorStats",
    "EmulatorThread",
    "Fail",
    "Fault",
    "Faults",
    "ManualClock",
    "Outcome",
    "Responder",
    "ScaledClock",
    "Succeed",
    "default_message",
    "default_responder",
]
