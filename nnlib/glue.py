"""``glue``: name a value for the book's prose, and do nothing where the book is not built.

The pages name every number their prose quotes with ``glue("key", value, display=False)``.
With myst-nb (the book's build tool) installed, this is :func:`myst_nb.glue`, which stores
the value in the cell's output for the text to quote. In a reader's own Jupyter, Colab or
Binder without myst-nb, the call does nothing, so a page runs without the build tooling.
"""

from __future__ import annotations

from typing import Any


def glue(name: str, variable: Any, display: bool = True) -> None:
    """Record ``variable`` under ``name`` with myst-nb when it is installed; else do nothing.

    Args:
        name: the key the prose refers to (``{glue:text}`name```).
        variable: the value to record.
        display: also show the value in the cell's output (myst-nb's default).

    Raises:
        TypeError: ``name`` is not a non-empty string.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string; got {name!r}")
    try:
        from myst_nb import glue as myst_glue  # the book's build tool, not a reader's need
    except ImportError:
        return None
    myst_glue(name, variable, display=display)
    return None
