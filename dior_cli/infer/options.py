"""``dior infer``'s options, shared by its three paths (``infer.stage``, ``infer.detector``, ``infer.given``)
without them importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dior_cli.formats.layouts import SequenceInfo

DEFAULT_SCORE_THRESH = 0.5  # the network path's --score-thresh
DEFAULT_MAX_DETS = 100  # the network path's --max-dets


@dataclass(frozen=True)
class InferOptions:
    """``dior infer``'s inputs (see the CLI for their meaning and defaults)."""

    source: Path
    out: Path
    weights: str | None = None  # None: coco for the network path, the shipped OSNet for --encoder osnet
    device: str = "auto"
    score_thresh: float | None = None  # None: 0.5 for the network path, no threshold for given detections
    max_dets: int | None = None  # None: 100 for the network path, no cap for given detections
    batch: int = 1
    overwrite: bool = False
    mask_thresh: float = 0.5
    detections: tuple[Path, ...] = ()  # given detection sets (folders or, for one sequence, files)
    encoder: str | None = None  # osnet or dior; None: osnet with detections, dior (the network) without
    frame_base: int | None = None  # first frame number of given MOTS txt / PNG names; None: the source's
    fusion_iom: float | None = None  # IoM-NMS threshold for given detections; None: fusion.DEFAULT_IOM_THRESH
    fps: float | None = None  # frames per second to record; None: the source's (video header, seqinfo.ini, KITTI 10)
    appearance: str = "auto"  # DIOR network path: auto (its head if trained, else OSNet), network, osnet
    reid_weights: str | None = None  # the OSNet ONNX file; None: found through dior_cli.weights
    detector: Any = None  # infer.detector.DetectorSettings for the detector path; None: its defaults

    @property
    def uses_detector(self) -> bool:
        """The YOLOX path: no DIOR weights named (or an ONNX detector file) and no given detections."""
        return not self.detections and (self.weights is None or self.weights == "yolox" or str(self.weights).endswith(".onnx"))

    def fps_for(self, seq: SequenceInfo) -> float | None:
        return seq.fps if self.fps is None else self.fps

    @property
    def network_score_thresh(self) -> float:
        return DEFAULT_SCORE_THRESH if self.score_thresh is None else self.score_thresh

    @property
    def network_max_dets(self) -> int:
        return DEFAULT_MAX_DETS if self.max_dets is None else self.max_dets
