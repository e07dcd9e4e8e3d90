"""The public API is exactly ``rxbatches.__all__``: sorted, importable, documented, nothing private.

Every check runs over whatever ``__all__`` lists, so names added later are covered
without touching this file.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import pkgutil
import re
import types
from functools import cache
from typing import Any

import pytest

import rxbatches

PUBLIC = list(rxbatches.__all__)


def _isort_key(name: str) -> tuple[int, list[str | int]]:
    """The order ruff's RUF022 (isort style) keeps: CONSTANTS, then CamelCase, then the rest."""
    group = 0 if len(name) > 1 and name.isupper() else 1 if name[:1].isupper() else 2
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
    return group, natural


def _owned(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "")).startswith("rxbatches")


def _docstrings_in(source: str) -> dict[str, str]:
    """Docstrings written under module-level assignments (``X = ...`` then ``\"\"\"...\"\"\"``).

    Constants and type aliases carry no ``__doc__`` of their own at runtime; their
    documentation is the string literal that follows the assignment in the source.
    """
    docs: dict[str, str] = {}
    for node, following in itertools.pairwise(ast.parse(source).body):
        if not (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)):
            continue
        if not isinstance(following.value.value, str):
            continue
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                docs.setdefault(target.id, following.value.value)
    return docs


@cache
def _attribute_docstrings() -> dict[str, str]:
    """The attribute docstrings of the package and of every private module in it."""
    names = [rxbatches.__name__] + [
        info.name
        for info in pkgutil.walk_packages(rxbatches.__path__, prefix="rxbatches.")
        if any(part.startswith("_") for part in info.name.split(".")[1:])
        and not info.name.endswith("__main__")
    ]
    docs: dict[str, str] = {}
    for name in names:
        for attr, doc in _docstrings_in(inspect.getsource(importlib.import_module(name))).items():
            docs.setdefault(attr, doc)
    return docs


def _docstring(name: str) -> str:
    obj = getattr(rxbatches, name)
    if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj):
        # Own docstring only: a class without one would inherit its base's.
        own = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        return (own or "").strip()
    return _attribute_docstrings().get(name, "").strip()


def test_all_is_sorted_isort_style_without_duplicates() -> None:
    assert sorted(PUBLIC, key=_isort_key) == PUBLIC
    assert len(set(PUBLIC)) == len(PUBLIC)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, Any] = {}

    exec("from rxbatches import *", namespace)

    assert sorted(set(namespace) - {"__builtins__"}) == sorted(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_imports_and_is_documented(name: str) -> None:
    module = importlib.import_module("rxbatches")

    obj = getattr(module, name)

    assert obj is not None
    assert _docstring(name), f"rxbatches.{name} has no docstring"


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_is_not_private_and_is_defined_by_rxbatches(name: str) -> None:
    obj = getattr(rxbatches, name)

    assert not name.startswith("_")
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert _owned(obj), f"{name} comes from {obj.__module__}, not from rxbatches"


def test_every_other_public_attribute_of_the_package_is_a_public_subpackage() -> None:
    others = {
        attr: getattr(rxbatches, attr)
        for attr in dir(rxbatches)
        if not attr.startswith("_") and attr not in PUBLIC
    }

    leaked = {
        attr
        for attr, value in others.items()
        if not (isinstance(value, types.ModuleType) and value.__name__ == f"rxbatches.{attr}")
    }

    assert leaked == set()


@pytest.mark.parametrize("name", [n for n in PUBLIC if inspect.isclass(getattr(rxbatches, n))])
def test_public_methods_and_properties_of_public_classes_are_documented(name: str) -> None:
    cls = getattr(rxbatches, name)
    undocumented = []
    for klass in cls.__mro__:
        if not _owned(klass):
            continue
        for attr, value in vars(klass).items():
            if attr.startswith("_"):
                continue
            member = value.__func__ if isinstance(value, classmethod | staticmethod) else value
            documentable = inspect.isfunction(member) or isinstance(member, property)
            if documentable and not (member.__doc__ or "").strip():
                undocumented.append(f"{klass.__name__}.{attr}")

    assert undocumented == []


def test_attribute_docstrings_are_read_only_from_the_string_under_an_assignment() -> None:
    # Guards the docstring check above against passing vacuously.
    source = '''
LIMIT = 3
"""The limit."""
Alias: TypeAlias = int | str
"""An alias."""
BARE = 4
def f() -> None:
    """Not an attribute docstring."""
"""Stray string after a function."""
'''

    assert _docstrings_in(source) == {"LIMIT": "The limit.", "Alias": "An alias."}


def test_isort_key_orders_constants_then_classes_then_the_rest_naturally() -> None:
    names = ["validate_requests", "a10", "APIError", "a9", "MAX_REQUESTS", "B", "AB_C"]

    assert sorted(names, key=_isort_key) == [
        "AB_C",
        "MAX_REQUESTS",
        "APIError",
        "B",
        "a9",
        "a10",
        "validate_requests",
    ]
