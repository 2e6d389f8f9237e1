"""Package exports that load their module on first use (PEP 562).

A stage package names its public functions and records in its ``__init__`` so
``from engine.analysis import choose_k`` works, but importing the package must not
import every module in it: ``engine.neural.tags`` is numpy only, while
``engine.neural.embed`` loads torch. :func:`lazy_exports` gives the package a
module ``__getattr__`` that imports the defining module when a name is first
asked for, and a ``__dir__`` that lists the names.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, tuple[str, ...]]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` for ``package``.

    Parameters
    ----------
    package : str
        The package's dotted name (its ``__name__``).
    exports : mapping of str to tuple of str
        Submodule name -> the public names it defines.

    Returns
    -------
    (getattr, dir) : the two module-level hooks.
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(set(where) | set(exports))

    return __getattr__, __dir__
