"""The encoders that embed given detections (``dior infer --detections``): OSNet x0.25 on each
box crop, or the DIOR embedding head on the three-frame window with the given masks as attention.

Each yields, frame by frame in frame order, ``(rows, (K, D) unit rows)`` where ``rows`` are the
frame's detection ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dior_cli.masks import decode
from dior_cli.records import Detections
from dior_cli.runtime import autocast, load_network
from dior_cli.sliding_window import sliding_window

@dataclass
class OsnetEncoder:
    """OSNet x0.25 on each detection's box crop (background kept: the measured default of ``osnet_crops``)."""

    model: Any
    weights: str
    weights_sha256: str | None
    batch: int = 64
    name: str = "osnet"
    dim: int = 512

    def embed_frames(self, frames, dets: Detections, num_frames: int):
        """Yield ``(rows, (K, 512) unit rows)`` frame by frame, in frame order (``rows`` = det_ids of the
        frame); frames without detections are read and passed over."""
        from dior_cli.model.osnet_crops import embed_crops

        by_frame = dets.rows_by_frame(num_frames)
        for frame, image in frames:
            rows = by_frame[frame]
            if rows.size:
                yield rows, embed_crops(self.model, image, dets.bbox_xyxy[rows], batch=self.batch)


@dataclass
class DiorEncoder:
    """The DIOR embedding head on F_tem of the three-frame window, with the given masks as attention."""

    model: Any
    weights: str
    weights_sha256: str | None
    device: Any
    batch: int = 1
    name: str = "dior"

    @property
    def dim(self) -> int:
        return int(self.model.config.embedding_dim)

    def embed_frames(self, frames, dets: Detections, num_frames: int):
        """Yield ``(rows, (K, D) unit rows)`` frame by frame, in frame order; every frame is encoded
        once (sliding window)."""
        import torch

        from dior_cli.model.given import embed_given

        by_frame = dets.rows_by_frame(num_frames)

        def step(frame: int, prev, cur, nxt) -> dict:
            rows = by_frame[frame]
            boxes = torch.from_numpy(dets.bbox_xyxy[rows]).float()  # (K, 4)
            with autocast(self.device):
                embeddings = embed_given(self.model, prev, cur, nxt, boxes, (decode(dets.rles[i]) for i in rows))  # (K, D)
            return {"embeddings": embeddings}

        with torch.inference_mode():
            for frame, result, _shape in sliding_window(self.model, frames, self.batch, self.device, step=step):
                yield by_frame[frame], result["embeddings"].numpy()


def load_encoder(name: str, weights: str | None, device, batch: int):
    """The encoder ``name`` on ``device``: OSNet (``weights`` None = the shipped file) or DIOR (``--weights``)."""
    if name == "osnet":
        from dior_cli.model.osnet import load_osnet, locate_osnet
        from dior_cli.weights import sha256_file

        located = locate_osnet(weights)
        model = load_osnet(located.path, device=device)
        return OsnetEncoder(model=model, weights=str(located.path), weights_sha256=sha256_file(located.path))
    model, weights_name, weights_sha = load_network(weights, device)
    return DiorEncoder(model=model, weights=weights_name, weights_sha256=weights_sha, device=device, batch=batch)
