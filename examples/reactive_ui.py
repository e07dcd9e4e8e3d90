"""A reactive desktop UI: a Tkinter window whose widgets are driven by a batch's Observables.

The window shows a progress bar, the batch's request counts, how many results have
arrived, and the latest results (``custom_id``, result type, first words of the text).
Everything on it changes because an Observable emitted: one subscription to the whole
lifecycle (create -> watch -> results), made when the window opens and disposed when it
closes (which aborts whatever request is in flight).

Threads, the point of this example:

- Tk's main loop runs on the main thread, the only one that ever touches a widget;
- the client's asyncio loop runs in a background thread: the subscription is made from
  the Tk thread, which runs no asyncio loop, so the client starts its own loop thread and
  does all its I/O there; its Observables emit on that thread;
- ``rbo.observe_on(ui, max_pending=100)`` hands every item over to the Tk thread, holding
  at most 100 undelivered: when the UI falls behind, the results download pauses (and
  TCP slows the server) instead of queuing parsed results. ``TkThreadSafeScheduler``
  (``examples/_tk_scheduler.py``) puts each action in a queue that the Tk thread drains
  every few milliseconds with ``root.after``: calling ``after`` itself from another
  thread is not safe, and neither is reactivex's ``TkinterScheduler``, which does just
  that;
- results come in bursts of hundreds: ``ops.buffer_with_time`` groups them so the UI
  redraws ten times a second rather than once per result;
- the emulator serves on a thread of its own.

Run it (it needs a display; on a machine without one, use Xvfb: ``xvfb-run -a python ...``)::

    python examples/reactive_ui.py                 # close the window when you like
    python examples/reactive_ui.py --headless --screenshot artifacts/reactive_ui.png
    RXBATCHES_USE_REAL_API=1 ANTHROPIC_API_KEY=sk-ant-... python examples/reactive_ui.py

``--headless`` is for CI: the window runs the batch to the end, checks that its widgets
show the final counts, saves a PNG of itself if ``--screenshot`` is given (with Pillow),
closes, and exits 0 (1 if the batch failed or the widgets do not add up).
"""

from __future__ import annotations

import argparse
import signal
import sys
import tkinter as tk
from collections.abc import Sequence
from pathlib import Path
from tkinter import ttk
from typing import Any, TypeAlias

import reactivex
from _common import connect, make_requests, sized
from _tk_scheduler import TkThreadSafeScheduler
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.disposable import Disposable

import rxbatches.operators as rbo
from rxbatches import (
    BatchService,
    MessageBatch,
    MessageBatchErroredResult,
    MessageBatchIndividualResponse,
    MessageBatchSucceededResult,
    Request,
)
from rxbatches.emulator import Fail, Outcome, default_responder

Result = MessageBatchIndividualResponse
Event: TypeAlias = rbo.BatchProgress | list[Result]
"""What the window reacts to: a new progress, or the results that arrived lately."""

LATEST_ROWS = 12
HEADLESS_TIMEOUT = 60.0  # seconds; on the emulator the batch takes about two
COUNT_NAMES = ("processing", "succeeded", "errored", "canceled", "expired", "received")


def batch_events(
    batches: BatchService, requests: Sequence[dict[str, Any]], *, interval: float
) -> Observable[Event]:
    """The lifecycle as the window sees it: progress while processing, then result bursts.

    ::

        create   ──(batch)|
        watch              ──s──s──S|
        results                      ──r─r─r──r─r──|
        events   ──────────p──p──P────[r,r,r]──[r,r]──|
    """
    total = len(requests)

    def result_bursts(ended: MessageBatch) -> Observable[Event]:
        return batches.results_streaming(ended.id).pipe(
            ops.buffer_with_time(0.1),
            ops.filter(bool),  # no redraw for an empty 100 ms
        )

    def progress_then_results(snapshots: Observable[MessageBatch]) -> Observable[Event]:
        progress: Observable[Event] = snapshots.pipe(rbo.progress(total=total))
        results = snapshots.pipe(ops.last(), ops.flat_map(result_bursts))
        return reactivex.merge(progress, results)

    def watch(batch: MessageBatch) -> Observable[Event]:
        # publish: the progress and the results branch share one poll per interval.
        return batches.watch(batch.id, interval=interval).pipe(ops.publish(progress_then_results))

    return batches.create(requests).pipe(ops.flat_map(watch))


class BatchWindow:
    """The widgets, and how each event changes them (called on the Tk thread only)."""

    def __init__(self, root: tk.Tk, total: int) -> None:
        self.root = root
        self.total = total
        self.received = 0
        self.last_progress: rbo.BatchProgress | None = None
        self.finished = False
        self.error: Exception | None = None

        root.title("rxbatches: a batch, reactively")
        style = ttk.Style(root)
        if "clam" in style.theme_names():
            style.theme_use("clam")
        style.configure("Big.TLabel", font=("TkDefaultFont", 13, "bold"))
        style.configure("Count.TLabel", font=("TkDefaultFont", 16, "bold"))
        # clam draws the bar in its background grey: give it a colour that reads as "done".
        style.configure(
            "Batch.Horizontal.TProgressbar",
            background="#2f7ed8",
            lightcolor="#5a9be6",
            darkcolor="#2466b0",
            troughcolor="#f4f4f4",
            thickness=18,
        )

        frame = ttk.Frame(root, padding=14)
        frame.grid(sticky="nsew")
        root.columnconfigure(0, weight=1)
        root.rowconfigure(0, weight=1)

        self.title = ttk.Label(frame, text="creating a batch...", style="Big.TLabel")
        self.title.grid(row=0, column=0, columnspan=2, sticky="w")
        self.bar = ttk.Progressbar(
            frame,
            maximum=total,
            length=560,
            mode="determinate",
            style="Batch.Horizontal.TProgressbar",
        )
        self.bar.grid(row=1, column=0, sticky="ew", pady=(8, 8))
        self.percent = ttk.Label(frame, text="0%", width=5, anchor="e")
        self.percent.grid(row=1, column=1, sticky="e", padx=(8, 0))

        counts = ttk.Frame(frame)
        counts.grid(row=2, column=0, columnspan=2, sticky="ew", pady=(0, 10))
        self.counts: dict[str, ttk.Label] = {}
        for column, name in enumerate(COUNT_NAMES):
            counts.columnconfigure(column, weight=1)
            box = ttk.LabelFrame(counts, text=name, padding=(10, 2))
            box.grid(row=0, column=column, sticky="ew", padx=3)
            self.counts[name] = ttk.Label(box, text="0", style="Count.TLabel", anchor="center")
            self.counts[name].pack(fill="x")

        ttk.Label(frame, text="Latest results").grid(row=3, column=0, sticky="w")
        self.table = ttk.Treeview(
            frame, columns=("custom_id", "type", "text"), show="headings", height=LATEST_ROWS
        )
        for heading, width in (("custom_id", 95), ("type", 90), ("text", 405)):
            self.table.heading(heading, text=heading)
            self.table.column(heading, width=width, stretch=heading == "text")
        self.table.grid(row=4, column=0, columnspan=2, sticky="nsew")
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(4, weight=1)

        self.footer = ttk.Label(frame, text="")
        self.footer.grid(row=5, column=0, columnspan=2, sticky="w", pady=(8, 0))

    def on_event(self, event: Event) -> None:
        """Show a progress, or a burst of results."""
        if isinstance(event, rbo.BatchProgress):
            self.show_progress(event)
        else:
            self.show_results(event)

    def show_progress(self, progress: rbo.BatchProgress) -> None:
        """Move the bar and the counts to a new progress."""
        self.last_progress = progress
        self.title.configure(text=f"{progress.batch_id}  ·  {progress.processing_status}")
        self.bar.configure(value=progress.done)
        self.percent.configure(text=f"{progress.fraction:.0%}")
        for name in COUNT_NAMES[:-1]:
            self.counts[name].configure(text=str(getattr(progress, name)))

    def show_results(self, results: list[Result]) -> None:
        """Count the new results and put the latest at the top of the table."""
        self.received += len(results)
        self.counts["received"].configure(text=str(self.received))
        for result in results[-LATEST_ROWS:]:
            self.table.insert("", 0, values=(result.custom_id, result.result.type, gist(result)))
        for stale in self.table.get_children()[LATEST_ROWS:]:
            self.table.delete(stale)

    def show_finished(self) -> None:
        """The stream completed: every result is in."""
        self.finished = True
        self.footer.configure(text=f"done: {self.received} results received")

    def show_error(self, error: Exception) -> None:
        """The stream failed: say why (the key never appears in an rxbatches error)."""
        self.error = error
        self.footer.configure(text=f"{type(error).__name__}: {error}", foreground="#b00020")

    def problems(self) -> list[str]:
        """What, on screen, does not match a batch that ended with every result received."""
        found: list[str] = []
        final = self.last_progress
        if self.error is not None:
            found.append(f"the stream failed: {self.error!r}")
        if not self.finished or final is None or not final.ended:
            return [*found, "the batch did not end, or its results did not all arrive"]
        shown = {name: self.counts[name].cget("text") for name in COUNT_NAMES}
        expected = {name: str(getattr(final, name)) for name in COUNT_NAMES[:-1]}
        expected["received"] = str(self.total)
        if shown != expected:
            found.append(f"the counts show {shown}, not {expected}")
        if float(self.bar.cget("value")) != self.total or self.percent.cget("text") != "100%":
            found.append(f"the bar shows {self.bar.cget('value')} of {self.total}")
        if len(self.table.get_children()) != min(LATEST_ROWS, self.total):
            found.append(f"the table has {len(self.table.get_children())} rows")
        return found


def gist(result: Result) -> str:
    """The first words of a result's text, or of its error message."""
    outcome = result.result
    if isinstance(outcome, MessageBatchSucceededResult):
        text = outcome.message.text
    elif isinstance(outcome, MessageBatchErroredResult):
        text = f"{outcome.error.error.type}: {outcome.error.error.message}"
    else:
        text = ""
    return " ".join(text.split()[:12])


def save_screenshot(root: tk.Tk, path: Path) -> None:
    """Save a PNG of the window, as the X server shows it (Pillow's ImageGrab)."""
    from PIL import ImageGrab  # only this feature needs Pillow

    root.update()
    x, y = root.winfo_rootx(), root.winfo_rooty()
    box = (x, y, x + root.winfo_width(), y + root.winfo_height())
    path.parent.mkdir(parents=True, exist_ok=True)
    ImageGrab.grab(bbox=box).save(path)


def fail_some(request: Request) -> Outcome:
    """The emulator's responder: requests whose ``custom_id`` ends in 7 fail."""
    if request.custom_id.endswith("7"):
        return Fail("invalid_request_error", "the example asked for this one to fail")
    return default_responder(request)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description="A Tkinter window driven by rxbatches.")
    parser.add_argument(
        "--headless", action="store_true", help="close when done, and check the widgets (CI)"
    )
    parser.add_argument("--screenshot", type=Path, help="save a PNG of the final window here")
    parser.add_argument("-n", "--requests", type=int, default=sized(300, 20))
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Open the window and run a batch in it; returns the exit status."""
    args = parse_args(argv)
    try:
        root = tk.Tk()
    except tk.TclError as error:
        print(
            f"no display for the window ({error}); try: xvfb-run -a python {sys.argv[0]}",
            file=sys.stderr,
        )
        return 2

    requests = make_requests(args.requests)
    status = 0
    # 6 requests at a time, 30 ms each: a few seconds of progress to watch.
    with connect(responder=fail_some, request_latency=0.03, concurrency=6) as target:
        window = BatchWindow(root, len(requests))
        ui = TkThreadSafeScheduler(root)
        subscription: abc.DisposableBase = Disposable()

        def close() -> None:
            if ui.closed:
                return
            subscription.dispose()  # aborts a request in flight; nothing reaches the UI after
            ui.close()
            root.destroy()

        def finish_headless(*problems: str) -> None:
            nonlocal status
            found = list(problems)
            if args.screenshot is not None:
                try:
                    save_screenshot(root, args.screenshot)
                    print(f"screenshot saved to {args.screenshot}")
                except Exception as error:  # no Pillow, no X server to read from...
                    found.append(f"no screenshot: {error!r}")
            found += window.problems()
            for problem in found:
                print(f"problem: {problem}", file=sys.stderr)
            status = 1 if found else 0
            close()

        def callback_failed(kind: type[BaseException], error: BaseException, tb: object) -> None:
            # A bug in a widget update: in CI, fail now rather than hang until a timeout.
            print(f"a Tk callback raised {error!r}", file=sys.stderr)
            if args.headless:
                finish_headless(f"a Tk callback raised {error!r}")

        root.report_callback_exception = callback_failed

        def completed() -> None:
            window.show_finished()
            if args.headless:
                root.after(300, finish_headless)  # let the last redraw reach the X server

        def failed(error: Exception) -> None:
            window.show_error(error)
            if args.headless:
                root.after(300, finish_headless)

        def start() -> None:
            nonlocal subscription
            events = batch_events(
                target.client.messages.batches, requests, interval=target.poll_interval
            )
            subscription = events.pipe(rbo.observe_on(ui, max_pending=100)).subscribe(
                on_next=window.on_event, on_error=failed, on_completed=completed
            )

        def interrupted(signum: int, frame: object) -> None:
            nonlocal status
            status = 130
            # Python runs this handler on the main thread, the Tk thread: after() is safe.
            root.after(0, close)

        root.protocol("WM_DELETE_WINDOW", close)
        signal.signal(signal.SIGINT, interrupted)  # Ctrl-C closes the window cleanly
        root.after(0, start)
        if args.headless and target.emulator is not None:  # real batches take their time
            seconds = HEADLESS_TIMEOUT
            root.after(int(seconds * 1000), finish_headless, f"not done after {seconds:.0f}s")
        root.mainloop()

    if not args.headless or status == 130:
        return status or (1 if window.error is not None else 0)
    print(f"window showed {window.received} results of {len(requests)}; exit status {status}")
    return status


if __name__ == "__main__":
    sys.exit(main())
