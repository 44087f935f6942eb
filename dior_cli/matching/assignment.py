"""The Hungarian solver TrackEval uses: scipy's ``linear_sum_assignment``.

TrackEval breaks ties the way scipy's solver does, so dior calls the very same compiled
function. ``import scipy.optimize`` also loads most of scipy (linalg, sparse, ...), which
takes longer than a whole evaluation of a small benchmark; the solver itself is a single
extension module (``scipy/optimize/_lsap``) that needs only numpy. :func:`solver` loads that
module by its file when it is there and falls back to ``scipy.optimize`` otherwise.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from functools import cache
from pathlib import Path
from typing import Callable

import numpy as np

Solver = Callable[..., tuple[np.ndarray, np.ndarray]]


@cache
def solver() -> Solver:
    """scipy's ``linear_sum_assignment(cost, maximize=False) -> (rows, cols)``, loaded once."""
    spec = importlib.util.find_spec("scipy")
    folder = Path(spec.origin).parent / "optimize" if spec is not None and spec.origin else None
    if folder is not None:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = folder / f"_lsap{suffix}"
            if path.is_file():
                loader = importlib.machinery.ExtensionFileLoader("scipy.optimize._lsap", str(path))
                module_spec = importlib.util.spec_from_file_location("scipy.optimize._lsap", path, loader=loader)
                module = importlib.util.module_from_spec(module_spec)
                loader.exec_module(module)
                function = getattr(module, "linear_sum_assignment", None)
                if function is not None:
                    return function
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment


def linear_sum_assignment(cost: np.ndarray, maximize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Optimal assignment of a ``(R, C)`` cost matrix: ``(rows, cols)``, rows ascending
    (scipy's function and conventions, see :func:`solver`)."""
    return solver()(cost, maximize=maximize)
