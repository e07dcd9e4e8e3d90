from __future__ import annotations

import inspect

import pytest

import rxbatches.operators as rbo
from rxbatches import operators

OPERATORS = [
    "batch_snapshots",
    "combine_progress",
    "job_progress",
    "join_requests",
    "observe_on",
    "progress",
    "resubmit_failed",
    "results",
    "split_by_type",
    "succeeded",
    "texts",
]


def test_operators_all_is_sorted_and_names_only_what_the_module_holds() -> None:
    assert rbo.__all__ == sorted(rbo.__all__)
    assert all(hasattr(rbo, name) for name in rbo.__all__)
    assert operators is rbo


def test_every_operator_is_public_and_lives_in_its_own_private_module() -> None:
    functions = [n for n in rbo.__all__ if inspect.isfunction(getattr(rbo, n))]
    assert functions == OPERATORS
    modules = [getattr(rbo, n).__module__ for n in functions]
    assert len(set(modules)) == len(modules)
    assert all(m.startswith("rxbatches.operators._") for m in modules)


@pytest.mark.parametrize("name", OPERATORS)
def test_every_operator_documents_a_marble_diagram_and_an_example(name: str) -> None:
    doc = inspect.getdoc(getattr(rbo, name)) or ""
    assert "Marble diagram::" in doc
    assert "Returns:" in doc
    assert "Example:" in doc


def test_every_public_name_has_a_docstring() -> None:
    undocumented = [n for n in rbo.__all__ if not inspect.getdoc(getattr(rbo, n))]
    assert undocumented == []
