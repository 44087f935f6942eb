"""How well OSNet x0.25 embeddings separate identities on real frames, with the background
kept or dimmed: the measurement behind ``embed_crops``'s default ``background="keep"``.

Inputs: ``../shared/data/mot17_mini`` (the first 4 to 8 real frames of 7 MOT17 sequences),
ground-truth pedestrians (``conf == 1``, class 1) cut from the frames by ``embed_crops``.
Score: for every pair of crops of one sequence taken from different frames, the cosine
similarity of their embeddings; ROC AUC of that score for same vs different identity
(Mann-Whitney, ties half), per sequence and pooled over the sequences' pairs (pairs across
sequences are not counted: they would be easy negatives).

Masks: MOT17 has boxes only, so ``dim`` uses a *proxy* mask, the ellipse inscribed in each
box (roughly a pedestrian's outline); a true segmentation may behave differently.

    python benchmarks/osnet_appearance.py [--factors 0.5,0.25,0]

Ends with one line:  RESULT osnet_appearance auc_keep=<a> auc_dim<f>=<a> ... crops=<n> pairs=<p>
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np

from dior_cli.model.osnet import load_osnet
from dior_cli.model.osnet_crops import embed_crops
from tests.conftest import MOT17_MINI
from tests.model.mot17_crops import (
    SequenceBoxes,
    cross_frame_pairs,
    ellipse_masks,
    load_sequence,
    roc_auc,
    sequence_folders,
)


def embed_sequence(model, seq: SequenceBoxes, background: str, dim_factor: float) -> np.ndarray:
    embeddings = np.zeros((len(seq.frame), 512), dtype=np.float32)  # (N, 512)
    for k, image in enumerate(seq.images):
        rows = seq.frame_rows(k)
        masks = ellipse_masks(seq.boxes_xyxy[rows], image.shape[:2]) if background == "dim" else None  # (n, H, W)
        embeddings[rows] = embed_crops(model, image, seq.boxes_xyxy[rows], masks, background, dim_factor=dim_factor)
    return embeddings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", default="0.5,0.25,0", help="dim factors to try, comma-separated (default 0.5,0.25,0)")
    args = parser.parse_args()
    if not MOT17_MINI.is_dir():
        sys.exit(f"MOT17-mini not found at {MOT17_MINI} (set DIOR_DATA)")
    modes = [("keep", "keep", 1.0)] + [(f"dim{float(f):g}", "dim", float(f)) for f in args.factors.split(",")]
    model = load_osnet()
    pooled: dict[str, tuple[list, list]] = {name: ([], []) for name, _, _ in modes}
    crops = 0
    start = time.perf_counter()
    print(f"{'sequence':<16} {'crops':>5} {'ids':>4} {'pairs':>6} {'same':>5}  " + "  ".join(f"{name:>8}" for name, _, _ in modes))
    for folder in sequence_folders(MOT17_MINI):
        seq = load_sequence(folder)
        crops += len(seq.frame)
        aucs = []
        for name, background, factor in modes:
            similarity, same = cross_frame_pairs(seq.frame, seq.identity, embed_sequence(model, seq, background, factor))
            pooled[name][0].append(similarity)
            pooled[name][1].append(same)
            aucs.append(roc_auc(similarity, same))
        print(f"{seq.name:<16} {len(seq.frame):5d} {len(np.unique(seq.identity)):4d} {len(same):6d} {int(same.sum()):5d}  "
              + "  ".join(f"{auc:8.4f}" for auc in aucs), flush=True)
    overall = {name: roc_auc(np.concatenate(s), np.concatenate(p)) for name, (s, p) in pooled.items()}
    pairs = sum(len(p) for p in pooled["keep"][1])
    print(f"{'pooled':<16} {crops:5d} {'':>4} {pairs:6d} {int(sum(p.sum() for p in pooled['keep'][1])):5d}  "
          + "  ".join(f"{overall[name]:8.4f}" for name, _, _ in modes))
    print(f"({time.perf_counter() - start:.0f} s; dim uses the ellipse inscribed in each box as a proxy mask)")
    print("RESULT osnet_appearance " + " ".join(f"auc_{name}={overall[name]:.4f}" for name, _, _ in modes) + f" crops={crops} pairs={pairs}")


if __name__ == "__main__":
    main()
