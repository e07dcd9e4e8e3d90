"""Hypothesis strategies for the emulator's tests (kept apart from tests/strategies.py)."""

from __future__ import annotations

from hypothesis import strategies as st

MAX_BATCHES = 250
"""The most batches a pagination example creates."""

batch_counts: st.SearchStrategy[int] = st.one_of(
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=MAX_BATCHES),
)
"""How many batches to create: any number in 0..250, biased toward small stores."""

page_limits: st.SearchStrategy[int] = st.one_of(
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=1, max_value=1000),
)
"""A list ``limit`` in 1..1000, biased toward small ones so that walks span several pages."""

custom_ids: st.SearchStrategy[str] = st.from_regex(r"[a-zA-Z0-9_-]{1,64}", fullmatch=True)
"""Any ``custom_id`` the API accepts."""

prompts: st.SearchStrategy[str] = st.text(min_size=1, max_size=40)
"""A user prompt."""

outcome_lists: st.SearchStrategy[list[bool]] = st.lists(st.booleans(), min_size=1, max_size=5)
"""The requests of a lifecycle-machine batch, one flag each: True when it should fail."""

clock_steps: st.SearchStrategy[int] = st.sampled_from([7, 14, 35, 7 * 12343])
"""Clock advances for the lifecycle machine, in emulator seconds.

All are multiples of 7 s, so an observation never falls exactly on a request completion
(multiples of 1.5 s up to 7.5 s after creation) nor on the 24 h expiry (86,400 is not a
multiple of 7): the expected state never hangs on a tie. 7 x 12343 s is just over 24 h.
"""
