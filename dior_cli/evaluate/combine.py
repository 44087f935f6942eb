"""Combining metric results: over sequences, over classes, and MOTS naming.

* Over sequences (one class): ``combine_hota``, ``combine_clear``, ``combine_identity``
  (re-exported here). TrackEval's *detection-averaged* class combination
  (``combine_classes_det_averaged``) is the same computation, applied to per-class results.
* Over classes, *class-averaged* (TrackEval's ``combine_classes_class_averaged``, e.g. the
  two KITTI-MOTS classes): count fields are summed, every other field (ratios, ``MOTP_sum``,
  the HOTA arrays and ``HOTALocA(0)`` included) is the plain mean over classes; nothing is
  recomputed. With ``ignore_empty_classes`` only classes with at least one TP, FN or FP take
  part; when none does, counts are 0 and means are NaN, as in TrackEval.
* ``add_mots_names``: the MOTS names of the CLEAR fields.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from . import clear, hota, identity
from .clear import combine_clear
from .hota import combine_hota
from .identity import combine_identity

__all__ = [
    "combine_hota",
    "combine_clear",
    "combine_identity",
    "class_average_hota",
    "class_average_clear",
    "class_average_identity",
    "add_mots_names",
    "MOTS_NAMES",
]

Result = dict[str, Any]
_EPS = float(np.finfo("float").eps)

# MOTS name -> TrackEval CLEAR field
MOTS_NAMES = {"sMOTSA": "sMOTA", "MOTSA": "MOTA", "MOTSP": "MOTP", "MODSA": "MODA"}


def _class_average(
    per_class: Sequence[Result],
    count_fields: Sequence[str],
    mean_fields: Sequence[str],
    ignore_empty_classes: bool,
    non_empty: Callable[[Result], bool],
) -> Result:
    chosen = [r for r in per_class if non_empty(r)] if ignore_empty_classes else list(per_class)
    res: Result = {}
    for f in count_fields:
        res[f] = sum(r[f] for r in chosen)  # 0 when no class is chosen, as TrackEval
    for f in mean_fields:
        if chosen:
            mean = np.mean([r[f] for r in chosen], axis=0)
            res[f] = mean if np.ndim(mean) else float(mean)
        else:
            res[f] = float("nan")  # np.mean of nothing, without its warning
    return res


def class_average_hota(per_class: Sequence[Result], ignore_empty_classes: bool = False) -> Result:
    """``HOTA().combine_classes_class_averaged``; a class is empty when its
    ``HOTA_TP + HOTA_FN + HOTA_FP`` is not above eps at any alpha."""
    return _class_average(
        per_class,
        hota.COUNT_FIELDS,
        hota.SCALAR_FIELDS + hota.ARRAY_FIELDS,
        ignore_empty_classes,
        lambda r: bool(np.any(r["HOTA_TP"] + r["HOTA_FN"] + r["HOTA_FP"] > 0 + _EPS)),
    )


def class_average_clear(per_class: Sequence[Result], ignore_empty_classes: bool = False) -> Result:
    """``CLEAR().combine_classes_class_averaged``; a class is empty when
    ``CLR_TP + CLR_FN + CLR_FP == 0``."""
    return _class_average(
        per_class,
        clear.INT_FIELDS,
        clear.FLOAT_FIELDS,
        ignore_empty_classes,
        lambda r: r["CLR_TP"] + r["CLR_FN"] + r["CLR_FP"] > 0,
    )


def class_average_identity(
    per_class: Sequence[Result], ignore_empty_classes: bool = False
) -> Result:
    """``Identity().combine_classes_class_averaged``; a class is empty when
    ``IDTP + IDFN + IDFP`` is not above eps."""
    return _class_average(
        per_class,
        identity.INT_FIELDS,
        identity.FLOAT_FIELDS,
        ignore_empty_classes,
        lambda r: r["IDTP"] + r["IDFN"] + r["IDFP"] > 0 + _EPS,
    )


def add_mots_names(clear_result: Result) -> Result:
    """A copy of a CLEAR result with sMOTSA, MOTSA, MOTSP and MODSA added (same values as
    sMOTA, MOTA, MOTP and MODA: on mask similarities these *are* the MOTS metrics)."""
    out = dict(clear_result)
    for mots, name in MOTS_NAMES.items():
        out[mots] = clear_result[name]
    return out
