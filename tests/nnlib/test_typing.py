"""Every public function and method of nnlib carries type hints (mypy checks them in
`make lint`; it does not ask for them, since the private helpers of the ops have none)."""

from __future__ import annotations

import importlib
import inspect

import pytest

import nnlib

MODULES = ["nnlib"] + [f"nnlib.{name}" for name in nnlib.__all__ if name != "__version__"]


def _public_callables(module):
    for name in getattr(module, "__all__", []):
        value = getattr(module, name)
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            yield name, value
        elif inspect.isclass(value) and value.__module__ == module.__name__:
            for attr, member in vars(value).items():
                if inspect.isfunction(member) and (not attr.startswith("_") or attr == "__init__"):
                    yield f"{name}.{attr}", member


def _missing_hints(fn) -> list[str]:
    signature = inspect.signature(fn)
    missing = [
        p.name
        for p in signature.parameters.values()
        if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty
    ]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


@pytest.mark.parametrize("module_name", [m for m in MODULES if importlib.util.find_spec(m)])
def test_public_functions_have_type_hints(module_name):
    module = importlib.import_module(module_name)
    unhinted = {name: _missing_hints(fn) for name, fn in _public_callables(module)}
    assert not {name: gaps for name, gaps in unhinted.items() if gaps}


def test_the_check_finds_a_missing_hint():
    def planted(x, y: int):
        return x

    assert _missing_hints(planted) == ["x", "return"]
