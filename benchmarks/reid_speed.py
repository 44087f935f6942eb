"""Speed of `dior reid` on all 12 KITTI-MOTS train sequences, and how it grows with the number of tracklets.

Inputs (made once, not timed): detections simulated from the real KITTI-MOTS train ground truth
(../shared/data/kitti_mots/instances_txt) by the test suite's simulator (`tests/track/simulate.py`):
5 % misses, 1-frame gaps, 4-9-frame occlusion bursts (which fragment tracks), 2 px mask shifts,
0.3 false positives per frame, 128-d embeddings with noise sigma 0.4, 10 fps. They are tracked
once by `dior track` (online tracker, no re-ID; not timed).

Scales 1x, 2x, 4x: each sequence's ground truth is concatenated with copies of itself in time
(copy c has its frames shifted by c * length and its object ids offset by c * 100000, so the copies
are fresh identities with fresh random appearances and fresh random occlusions), then simulated
and tracked. A sequence 4x as long has about 4x the tracklets at the same density per frame,
which is how a longer video grows; this is the growth `dior reid` must handle gracefully. (More
fragmentation at a fixed length would instead raise the density of tracklets per frame.)

Timed: `dior reid`'s stage (`dior_cli.reid.stage.run`, no --frames, progress bars off) over all
12 sequences, for `--method remots` (default) and `--method dior`: reading tracks, link files,
detections and embeddings, refining, writing. Also the refinement alone (`refine_remots` /
`link_tracklets` on arrays already in memory). The median of `--repeat` runs counts.

growth_exponent = log(t4 / t1) / log(4): 1 is linear in the number of tracklets, 2 quadratic.

    python benchmarks/reid_speed.py [--repeat 3]

Ends with one line (remots, the default method):
    RESULT reid_speed seconds_1x=<s> seconds_4x=<s> growth_exponent=<e> tracklets_1x=<n>
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DIOR_PROGRESS", "0")  # time the work, not the progress bars

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


from dior_cli.config import FIXED_THETA_1, ReidConfig, seconds_to_frames  # noqa: E402
from dior_cli.formats.mots_txt import read_mots_txt  # noqa: E402
from dior_cli.formats.tracks_json import read_track_links  # noqa: E402
from dior_cli.association.long_term import link_tracklets  # noqa: E402
from dior_cli.reid.remots import refine_remots  # noqa: E402
from dior_cli.reid.stage import ReidOptions  # noqa: E402
from dior_cli.reid.track_lines import line_embeddings  # noqa: E402
from dior_cli.reid.stage import run as reid  # noqa: E402
from dior_cli.track.stage import TrackOptions  # noqa: E402
from dior_cli.track.stage import run as track  # noqa: E402
from tests.track.simulate import Burst, SimParams, seq_lengths, simulate_folder  # noqa: E402

DATA = Path(os.environ.get("DIOR_DATA", REPO.parent / "shared" / "data"))
KITTI_TXT = DATA / "kitti_mots" / "instances_txt"
SEQMAP = DATA / "kitti_mots" / "seqmaps" / "train.seqmap"
SCALES = (1, 2, 4)
PARAMS = SimParams(miss_prob=0.05, bursts=(Burst((1, 1), rate=0.02), Burst((4, 9), rate=0.015)), max_shift=2,
                   fp_per_frame=0.3, score=(0.6, 1.0), dim=128, sigma=0.4, fps=10.0, seed=7)
METHODS = {"remots": ReidConfig(method="remots"), "dior": ReidConfig(method="dior")}


def write_scaled_gt(folder: Path, sequences: dict[str, int], scale: int) -> dict[str, int]:
    """Ground truth of each sequence concatenated ``scale`` times in time (fresh ids per copy)."""
    folder.mkdir(parents=True, exist_ok=True)
    lengths = {}
    for seq, n in sequences.items():
        lines = (KITTI_TXT / f"{seq}.txt").read_text().splitlines()
        out = []
        for c in range(scale):
            for line in lines:
                parts = line.split()
                if len(parts) >= 6:
                    out.append(f"{int(parts[0]) + c * n} {int(parts[1]) + c * 100000} {' '.join(parts[2:])}")
        (folder / f"{seq}.txt").write_text("\n".join(out) + "\n")
        lengths[seq] = n * scale
    return lengths


def load_arrays(tracks: Path, dets: Path) -> list[tuple]:
    """Per sequence ``(frames, obj_ids, class_ids, embeddings, fps)``, as the stage reads them."""
    out = []
    for txt in sorted(tracks.glob("*.txt")):
        probe = read_track_links(txt.with_suffix(".json"))
        rows = read_mots_txt(txt, probe.frame_base, num_frames=probe.num_frames)
        links = read_track_links(txt.with_suffix(".json"), len(rows))
        out.append((rows.frame, rows.obj_id, rows.class_id, line_embeddings(dets, links, rows, txt)[:], links.fps))
    return out


def core(method: str, arrays: list[tuple]) -> None:
    cfg = METHODS[method]
    for frames, obj_ids, class_ids, e, fps in arrays:
        if method == "remots":
            refine_remots(frames, obj_ids, class_ids, e, max_gap_frames=seconds_to_frames(cfg.theta_t_seconds, fps), sigma_k=cfg.sigma_k)
        else:
            link_tracklets(obj_ids, frames, class_ids, e, max_gap_frames=seconds_to_frames(cfg.n2_seconds, fps), min_similarity=FIXED_THETA_1)


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not SEQMAP.is_file():
        sys.exit(f"KITTI-MOTS ground truth not found at {KITTI_TXT} (set DIOR_DATA)")
    sequences = seq_lengths(SEQMAP)  # the 12 train sequences and their lengths

    stage_s: dict[str, dict[int, float]] = {m: {} for m in METHODS}
    core_s: dict[str, dict[int, float]] = {m: {} for m in METHODS}
    tracklets: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="dior_reid_speed_") as tmp:
        for scale in SCALES:
            root = Path(tmp) / f"x{scale}"
            start = time.perf_counter()
            lengths = write_scaled_gt(root / "gt", sequences, scale)
            simulate_folder(root / "gt", sorted(sequences), root / "dets", PARAMS, num_frames=lengths)
            summary = track(TrackOptions(dets=root / "dets", out=root / "tracks", overwrite=True))
            seqs = summary["sequences"].values()
            tracklets[scale] = sum(s["tracks"] for s in seqs)
            lines = sum(s["tracked_detections"] for s in seqs)
            print(f"{scale}x: {len(sequences)} sequences, {sum(lengths.values())} frames, {lines} track lines, "
                  f"{tracklets[scale]} tracklets (made in {time.perf_counter() - start:.1f} s, not timed)", flush=True)
            arrays = load_arrays(root / "tracks", root / "dets")
            for method, cfg in METHODS.items():
                options = ReidOptions(tracks=root / "tracks", dets=root / "dets", out=root / f"refined_{method}", overwrite=True,
                                      config=cfg)
                reid(options)  # warm-up
                stage_s[method][scale] = timed(lambda options=options: reid(options), args.repeat)
                core_s[method][scale] = timed(lambda method=method, arrays=arrays: core(method, arrays), args.repeat)
                print(f"    {method:<7} stage {stage_s[method][scale]:7.3f} s   refinement alone {core_s[method][scale]:7.3f} s",
                      flush=True)

    print(f"\n{'method':<8}{'':>9}" + "".join(f"{f'{s}x':>10}" for s in SCALES) + f"{'exponent':>10}")
    print(f"{'':<8}{'tracklets':>9}" + "".join(f"{tracklets[s]:>10d}" for s in SCALES))
    exponents = {}
    for method in METHODS:
        for label, table in (("stage s", stage_s), ("core s", core_s)):
            t = table[method]
            exponent = math.log(t[4] / t[1]) / math.log(4)
            if label == "stage s":
                exponents[method] = exponent
            print(f"{method:<8}{label:>9}" + "".join(f"{t[s]:>10.3f}" for s in SCALES) + f"{exponent:>10.2f}")
    t = stage_s["remots"]
    print(f"RESULT reid_speed seconds_1x={t[1]:.3f} seconds_4x={t[4]:.3f} growth_exponent={exponents['remots']:.2f} "
          f"tracklets_1x={tracklets[1]}")


if __name__ == "__main__":
    main()
