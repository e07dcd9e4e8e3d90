"""Typed shortcuts over reactivex.testing for the operator tests."""

from __future__ import annotations

from typing import TypeVar

from reactivex.notification import OnError, OnNext
from reactivex.testing import ReactiveTest
from reactivex.testing.mockobserver import MockObserver

_T = TypeVar("_T")

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed
on_error = ReactiveTest.on_error
subscribe = ReactiveTest.subscribe


def values(observer: MockObserver[_T]) -> list[_T]:
    """The values of the ``on_next`` notifications an observer recorded, in order."""
    return [m.value.value for m in observer.messages if isinstance(m.value, OnNext)]


def kinds(observer: MockObserver[_T]) -> list[tuple[float, str]]:
    """Each recorded notification as (virtual time, ``"N"``, ``"E"`` or ``"C"``)."""
    return [
        (m.time, "N" if isinstance(m.value, OnNext) else _kind(m.value)) for m in observer.messages
    ]


def _kind(notification: object) -> str:
    return "E" if isinstance(notification, OnError) else "C"


def error(observer: MockObserver[_T]) -> tuple[float, Exception]:
    """The time and exception of the ``on_error`` an observer recorded."""
    (found,) = [
        (m.time, m.value.exception) for m in observer.messages if isinstance(m.value, OnError)
    ]
    return found
