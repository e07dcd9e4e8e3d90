"""The progress renderer: a bar redrawn in place on a terminal, throttled plain lines otherwise."""

from __future__ import annotations

import io

from rxbatches._cli._progress import ProgressLine, format_duration


def test_live_bar_redraws_one_line_in_place_and_clears_it_at_the_end() -> None:
    stream = io.StringIO()
    bar = ProgressLine(stream, "watch", live=True, redraw=0.0)

    bar.update(0, 10, "in_progress")
    bar.update(5, 10, "in_progress")
    bar.finish("ended")

    text = stream.getvalue()
    assert "\n" not in text.rpartition("\r")[0]  # every redraw stays on one line
    assert "[##############--------------]  50% 5/10  in_progress" in text
    assert text.endswith("\r\x1b[Kwatch: ended\n")


def test_plain_lines_are_throttled_but_forced_ones_always_appear() -> None:
    stream = io.StringIO()
    bar = ProgressLine(stream, "watch", live=False, plain_every=3600.0)

    bar.update(0, 4)
    bar.update(1, 4)  # within the throttle window: dropped
    bar.update(4, 4, "ended", force=True)
    bar.finish("done")

    lines = stream.getvalue().splitlines()
    assert [line.rsplit("  ", 1)[0] for line in lines[:2]] == [
        "watch: 0% 0/4",
        "watch: 100% 4/4  ended",
    ]
    assert lines[2] == "watch: done"
    assert "\r" not in stream.getvalue()


def test_plain_mode_repeats_no_identical_line() -> None:
    stream = io.StringIO()
    bar = ProgressLine(stream, "results", live=False, plain_every=0.0)
    bar._render = lambda done, total, detail: f"{done}"  # type: ignore[method-assign]

    for done in (1, 1, 2, 2, 2):
        bar.update(done)

    assert stream.getvalue().splitlines() == ["1", "2"]


def test_a_counter_without_total_shows_the_count() -> None:
    stream = io.StringIO()
    bar = ProgressLine(stream, "results", live=False)

    bar.update(1234, None, "lines received")

    assert stream.getvalue().startswith("results: 1,234 lines received  ")


def test_disabled_progress_writes_nothing() -> None:
    stream = io.StringIO()
    bar = ProgressLine(stream, "watch", enabled=False)

    bar.update(1, 2, force=True)
    bar.finish("done")

    assert stream.getvalue() == ""


def test_nothing_is_written_after_finish() -> None:
    stream = io.StringIO()
    bar = ProgressLine(stream, "watch", live=False)
    bar.finish("done")

    bar.update(1, 2, force=True)

    assert stream.getvalue() == "watch: done\n"


def test_durations_read_naturally() -> None:
    assert [format_duration(s) for s in (4.24, 185, 3720)] == ["4.2s", "3m05s", "1h02m"]
