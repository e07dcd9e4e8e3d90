"""The package's layout (rxbatches/__init__.py's map): every import goes down the layers.

Read from the source with ``ast`` (``TYPE_CHECKING`` imports included: a type-only import
upwards is still a tie the wrong way).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import rxbatches

PACKAGE = Path(rxbatches.__file__).resolve().parent

LAYERS: list[tuple[str, ...]] = [
    ("_base",),
    ("_rx",),
    ("_transport",),
    ("_service",),
    ("_jobs",),
    ("operators",),
    ("_client", ""),  # "": the package itself, rxbatches/__init__.py
    ("_cli", "emulator", "dashboard", "__main__"),
]
"""Bottom first. A module may import from its own layer and the ones before it."""


def _layer(module: str) -> int:
    parts = module.split(".")
    assert parts[0] == "rxbatches", module
    top = parts[1] if len(parts) > 1 else ""
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"{module}: in no layer of the map; add it to LAYERS and the map")


def _module_of(path: Path) -> tuple[str, str]:
    """The module name of ``path`` and the package its relative imports start from."""
    parts = ["rxbatches", *path.relative_to(PACKAGE).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every rxbatches import in ``path``."""
    _, package = _module_of(path)
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("rxbatches")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("rxbatches"):
                continue
            if node.module is None or (node.level and target.count(".") == 0):
                # `from . import x`: x is a module of that package
                found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, target))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_import_goes_down_the_layers(path: Path) -> None:
    name, _ = _module_of(path)
    mine = _layer(name)
    upward = [
        f"line {line}: {name} ({LAYERS[mine][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
        for line, target in _imports(path)
        if _layer(target) > mine
    ]
    assert upward == []


def test_the_map_in_the_package_docstring_names_every_layer() -> None:
    doc = rxbatches.__doc__ or ""
    for names in LAYERS:
        for name in names:
            if name:
                assert f"``{name}" in doc, name


_IMPORT_EACH_FIRST = """
import importlib, sys
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "rxbatches" or m.startswith("rxbatches.")]:
        del sys.modules[loaded]
    importlib.import_module(name)
"""


def test_each_module_of_the_top_layer_imports_first_in_a_fresh_interpreter() -> None:
    # The top layer's modules import each other (the command line serves the dashboard,
    # the dashboard's command uses the command line's argument types): a cycle among
    # them breaks only the import that comes first, which no other test chooses.
    top = [
        f"rxbatches.{folder}" + ("" if path.stem == "__init__" else f".{path.stem}")
        for folder in ("_cli", "dashboard", "emulator")
        for path in sorted((PACKAGE / folder).glob("*.py"))
    ]
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH_FIRST, *top],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
