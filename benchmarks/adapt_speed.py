"""`dior adapt` on real video: identity separation before vs after, and its speed on CPU.

Sequences: ../shared/data/mot_box_gt/TUD-Campus (71 frames, 640x480) and PETS09-S3MF1 (107
frames, 768x576), and the seven sequences of ../shared/data/mot17_mini/train (4-8 frames of
1920x1080 or 640x480 each; ``--sequences mot17_mini`` names them all, frame rates from their
``seqinfo.ini``; MOT17's ground truth gives only its class-1 rows to consider as detections).
Detections are the ground-truth boxes (`dior infer SEQ --detections
SEQ/gt/gt.txt --fps F`: box masks, OSNet embeddings), made once into --work and not timed.
The adaptation (`dior_cli.adapt.stage.run`, the defaults of `dior adapt` unless --set) never
sees an identity: each detection's ground-truth id is looked up afterwards, through the
`origin.line` dior infer records, only to score.

Separation, over all pairs of detections in different frames of one sequence: ROC AUC of the
cosine similarity for same-identity vs different-identity pairs (the Mann-Whitney U statistic
of scipy.stats, U / (n_same n_different)), and the overlap of the two normalised histograms
(50 bins on [-1, 1], sum of the bin-wise minimum: 0 = apart, 1 = identical). With several
sequences, the same two figures are also given over the pairs of all of them pooled (pairs never
cross sequences): line ``pooled``, fields ``*_pooled`` in the RESULT line.

Speed: steps/s of the training loop (sampling, augmentation, forward, loss, backward, Adam),
against the reference of the same network's bare step, forward + triplet-free loss + backward
+ Adam on one tensor batch of the same size, timed in the same run at the same thread count
(torch alone: the ratio is what dior's sampling and augmentation cost); and seconds per 1,000
detections for the whole `dior adapt` of a sequence (crops, both training steps, optical flow,
short-term tracker, re-embedding, writing).

    python benchmarks/adapt_speed.py [--work /tmp/adapt_bench] [--threads 2] [--sequences TUD-Campus|mot17_mini|MOT17-09-FRCNN,...] [--set intra_steps=100 ...]
                                     [--train-data ../shared/data/mot17_mini]

Ends with one line:
    RESULT adapt_speed steps_per_s=<s> reference_steps_per_s=<s> ratio=<r> s_per_1000_dets=<s> auc_before_<seq>=<a> auc_after_<seq>=<a> ...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("DIOR_PROGRESS", "0")  # time the work, not the progress bars

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from scipy.stats import mannwhitneyu  # noqa: E402

from dior_cli import config  # noqa: E402
from dior_cli.adapt.stage import AdaptOptions  # noqa: E402
from dior_cli.adapt.stage import run as adapt  # noqa: E402
from dior_cli.formats.detections_json import read_detections  # noqa: E402
from dior_cli.formats.embeddings import read_embeddings  # noqa: E402
from dior_cli.model.osnet import INPUT_SIZE, load_osnet  # noqa: E402

DATA = Path(os.environ.get("DIOR_DATA", REPO.parent / "shared" / "data"))
SEQUENCES = {"TUD-Campus": 25.0, "PETS09-S3MF1": 7.0}  # fps (MOT15 seqinfo: TUD-Campus 25, PETS09 7)
MOT17_MINI = DATA / "mot17_mini" / "train"


def sequence_dir_and_fps(name: str) -> tuple[Path, float]:
    """Where a sequence's frames and ``gt/gt.txt`` are, and its frame rate."""
    if name in SEQUENCES:
        return DATA / "mot_box_gt" / name, SEQUENCES[name]
    seq_dir = MOT17_MINI / name
    info = seq_dir / "seqinfo.ini"
    if not info.is_file():
        sys.exit(f"unknown sequence {name!r}: not one of {', '.join(SEQUENCES)} and no {info}")
    rate = next(line.split("=", 1)[1] for line in info.read_text().splitlines() if line.strip().lower().startswith("framerate"))
    return seq_dir, float(rate)


def sequence_names(text: str) -> list[str]:
    """``--sequences``: comma-separated names; ``mot17_mini`` stands for every sequence of it."""
    names = []
    for name in text.split(","):
        names += sorted(p.name for p in MOT17_MINI.iterdir() if p.is_dir()) if name == "mot17_mini" else [name]
    return names


def ground_truth_ids(seq_dir: Path, dets) -> np.ndarray:
    """Ground-truth id of each detection, from the gt.txt line dior infer recorded."""
    ids_by_line = [int(line.split(",")[1]) for line in (seq_dir / "gt" / "gt.txt").read_text().splitlines() if line.strip()]
    return np.array([ids_by_line[extra["origin"]["line"] - 1] for extra in dets.detections.extras])


def pair_similarities(embeddings: np.ndarray, identity: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of every pair of detections in different frames ``(P,)``, and whether it is one identity ``(P,)``."""
    i, j = np.triu_indices(identity.size, k=1)
    keep = frames[i] != frames[j]
    i, j = i[keep], j[keep]
    return np.einsum("kd,kd->k", embeddings[i], embeddings[j]), identity[i] == identity[j]


def separation(embeddings: np.ndarray, identity: np.ndarray, frames: np.ndarray) -> dict[str, float]:
    return separation_of(*pair_similarities(embeddings, identity, frames))


def separation_of(similarity: np.ndarray, same: np.ndarray) -> dict[str, float]:
    u = mannwhitneyu(similarity[same], similarity[~same], alternative="two-sided").statistic
    edges = np.linspace(-1, 1, 51)
    h_same = np.histogram(similarity[same], edges)[0] / same.sum()
    h_diff = np.histogram(similarity[~same], edges)[0] / (~same).sum()
    return {"auc": float(u / (same.sum() * (~same).sum())), "overlap": float(np.minimum(h_same, h_diff).sum()),
            "same_mean": float(similarity[same].mean()), "different_mean": float(similarity[~same].mean()),
            "pairs_same": int(same.sum()), "pairs_different": int((~same).sum())}


def reference_steps_per_second(batch: int, steps: int) -> float:
    """The bare torch step of the same network and batch size (no sampling, no augmentation)."""
    model = load_osnet()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=5e-4)
    images = torch.randn(batch, 3, *INPUT_SIZE, generator=torch.Generator().manual_seed(0))
    start = None
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()  # the first step warms up
        features = F.normalize(model(images), dim=1)  # (B, 512)
        loss = (features @ features.T).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/adapt_bench"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--reference-steps", type=int, default=10)
    parser.add_argument("--sequences", default=",".join(SEQUENCES),
                        help="comma-separated: " + ", ".join(SEQUENCES) + ", mot17_mini (all seven) or MOT17-XX-FRCNN names")
    parser.add_argument("--train-data", type=Path, default=None,
                        help="a labelled dataset mixed 1:1 into step 1 (dior adapt --train-data), e.g. ../shared/data/mot17_mini")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = config.load_config("adapt", None, args.overrides)
    results: dict[str, dict] = {}
    total_steps = total_train_seconds = total_seconds = total_dets = 0.0
    pooled: dict[str, list] = {"before": [], "after": []}
    for seq in sequence_names(args.sequences):
        seq_dir, fps = sequence_dir_and_fps(seq)
        dets_dir = args.work / f"dets_{seq}"
        if not (dets_dir / f"{seq}.npy").is_file():
            subprocess.run([sys.executable, "-m", "dior_cli", "infer", str(seq_dir), "--detections", str(seq_dir / "gt" / "gt.txt"),
                            "--out", str(dets_dir), "--fps", str(fps)], check=True)
        dets = read_detections(dets_dir / f"{seq}.json")
        before = read_embeddings(dets_dir / f"{seq}.npy", dets, dets_dir / f"{seq}.json").vectors
        out = args.work / f"adapted_{seq}"
        summary = adapt(AdaptOptions(dets=dets_dir, frames=seq_dir, out=out, device="cpu", overwrite=True,
                                        train_data=args.train_data, config=cfg))["sequences"][seq]
        after = read_embeddings(out / f"{seq}.npy", dets, out / f"{seq}.json").vectors
        identity = ground_truth_ids(seq_dir, dets)
        frames = dets.detections.frame
        for key, vectors in (("before", before), ("after", after)):
            pooled[key].append(pair_similarities(vectors, identity, frames))
        results[seq] = {"before": separation(before, identity, frames), "after": separation(after, identity, frames),
                        "detections": len(dets.detections), "identities": int(np.unique(identity).size), "summary": summary}
        total_steps += summary["intra"]["steps"] + summary["inter"]["steps"]
        total_train_seconds += summary["intra"]["seconds"] + summary["inter"]["seconds"]
        total_seconds += summary["seconds"]
        total_dets += len(dets.detections)
        b, a = results[seq]["before"], results[seq]["after"]
        print(f"{seq}: {len(dets.detections)} detections, {results[seq]['identities']} identities; "
              f"AUC {b['auc']:.4f} -> {a['auc']:.4f}, histogram overlap {b['overlap']:.4f} -> {a['overlap']:.4f}, "
              f"same {b['same_mean']:.3f} -> {a['same_mean']:.3f}, different {b['different_mean']:.3f} -> {a['different_mean']:.3f}; "
              f"{summary['seconds']} s ({summary['steps_per_second']} steps/s, {summary['seconds_per_1000_detections']} s per 1,000 detections)",
              flush=True)
    if len(results) > 1:
        both = {key: separation_of(np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]))
                for key, pairs in pooled.items()}
        results["pooled"] = {**both, "detections": int(total_dets), "identities": sum(r["identities"] for r in results.values())}
        b, a = both["before"], both["after"]
        print(f"pooled ({len(results) - 1} sequences, pairs inside each): AUC {b['auc']:.4f} -> {a['auc']:.4f}, "
              f"histogram overlap {b['overlap']:.4f} -> {a['overlap']:.4f}, same {b['same_mean']:.3f} -> {a['same_mean']:.3f}, "
              f"different {b['different_mean']:.3f} -> {a['different_mean']:.3f}", flush=True)
    steps_per_s = total_steps / total_train_seconds
    reference = reference_steps_per_second(2 * cfg.batch_identities, args.reference_steps)
    (args.work / "adapt_speed.json").write_text(json.dumps(results, indent=1))
    print(f"training loop {steps_per_s:.3f} steps/s vs bare torch step {reference:.3f} steps/s (batch {2 * cfg.batch_identities}, "
          f"{args.threads} threads): ratio {steps_per_s / reference:.2f}")
    parts = " ".join(f"auc_before_{s}={r['before']['auc']:.4f} auc_after_{s}={r['after']['auc']:.4f} "
                     f"overlap_before_{s}={r['before']['overlap']:.4f} overlap_after_{s}={r['after']['overlap']:.4f}" for s, r in results.items())
    print(f"RESULT adapt_speed steps_per_s={steps_per_s:.3f} reference_steps_per_s={reference:.3f} ratio={steps_per_s / reference:.2f} "
          f"s_per_1000_dets={1000 * total_seconds / total_dets:.1f} {parts}")


if __name__ == "__main__":
    main()
