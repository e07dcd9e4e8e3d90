"""An offline emulator of the Message Batches API (aiohttp.web on 127.0.0.1).

It serves the six batch endpoints with the official bodies, statuses and error
envelopes; batches move through their lifecycle on an emulator clock (real time,
scaled, or a :class:`ManualClock` for step-by-step tests); outcomes come from a
pluggable responder, and faults can be injected per endpoint, scripted (the next N
responses) or random (a probability, from a seeded generator): error statuses with
``retry-after`` / ``x-should-retry``, a proxy's HTML page, resets, bodies cut mid-line or
trickled, added latency, and a propagation delay during which a new batch answers 404.

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
            emu.faults.randomly("results", 0.1, Fault.truncate_lines(5))  # 1 download in 10
            emu.faults.propagation_delay = 2.0  # new batches are 404 for 2 emulator seconds

From the command line: ``python -m rxbatches emulator --port 8787``, with faults:
``--fault retrieve:529:0.2 --fault results:truncate:0.1 --propagation-delay 2`` (the
``ENDPOINT:KIND[=ARG][:PROBABILITY]`` syntax is listed by ``--help``).
"""

from ._app import EmulatorStats
from ._clock import Clock, ManualClock, ScaledClock
from ._faults import Fault, Faults, parse_fault_spec
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
    "parse_fault_spec",
]
