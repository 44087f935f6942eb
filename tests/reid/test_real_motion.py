"""Offline refinement on real KITTI-MOTS motion: long occlusions the online tracker cannot bridge.

Detections are simulated from real ground truth (sequences 0000, 0005, 0012, 0017) by
:mod:`tests.track.simulate`: 5 % misses, 1-frame gaps (bridged online by short-term retrieval),
4-9-frame occlusion bursts (longer than N1 = 0.2 s = 2 frames at 10 fps, so the online tracker
ends the track and starts a new one), shifted masks, false positives and noisy per-identity
embeddings (sigma 0.4). ``dior track`` (online, no re-ID) then ``dior reid`` with each method;
everything is scored by ``dior evaluate`` (TrackEval's numbers).

* Both methods, with their defaults, raise IDF1 and lower ID switches against the online tracker.
* The time limit matters: a burst of L missing frames leaves a gap of L + 1 frames (6-10 here),
  while 0.5 s is 5 frames at 10 fps and 1.0 s is 10: the larger limit is at least as good.
* ``--plot`` writes the two-panel threshold figure, and theta_short < theta_merge on this data.

``pytest -s`` prints the table of IDF1 and ID switches.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from dior_cli.config import ReidConfig
from dior_cli.evaluate.stage import EvaluateOptions
from dior_cli.evaluate.stage import run as evaluate
from dior_cli.reid.stage import ReidOptions
from dior_cli.reid.stage import run as reid
from dior_cli.track.stage import TrackOptions
from dior_cli.track.stage import run as track
from tests.conftest import KITTI_TXT, require
from tests.track.simulate import Burst, SimParams, seq_lengths, simulate_folder, write_gt_folder

SEQMAP = KITTI_TXT.parent / "seqmaps" / "train.seqmap"
SEQUENCES = ["0000", "0005", "0012", "0017"]  # cars and pedestrians; 0005 cars only; 0017 pedestrians only
FPS = 10.0
LONG = (4, 9)
OCCLUDED = SimParams(
    miss_prob=0.05,
    bursts=(Burst((1, 1), rate=0.02), Burst(LONG, rate=0.015)),
    max_shift=2,
    fp_per_frame=0.3,
    score=(0.6, 1.0),
    dim=128,
    sigma=0.4,
    fps=FPS,
    seed=7,
)
VARIANTS = {
    "remots theta_t 0.5 s": ReidConfig(method="remots", theta_t_seconds=0.5),
    "remots theta_t 1.0 s": ReidConfig(method="remots", theta_t_seconds=1.0),
    "dior N2 0.5 s": ReidConfig(method="dior", n2_seconds=0.5),
    "dior N2 1.0 s": ReidConfig(method="dior", n2_seconds=1.0),
}
CLASSES = ("car", "pedestrian", "class_average")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    require(KITTI_TXT)
    root = tmp_path_factory.mktemp("reid_real")
    lengths = seq_lengths(require(SEQMAP))
    seqmap = write_gt_folder(KITTI_TXT, SEQUENCES, root / "gt", lengths)
    sims = simulate_folder(KITTI_TXT, SEQUENCES, root / "dets", OCCLUDED, num_frames=lengths)
    long_bursts = sum(1 for s in sims.values() for _, _, n in s.bursts if n >= LONG[0])
    assert long_bursts >= 20, long_bursts  # enough fragmentation to measure

    def score(pred: Path) -> dict:
        return evaluate(EvaluateOptions(gt=root / "gt", pred=pred, benchmark="kitti-mots", seqmap=seqmap, workers=1))["combined"]

    track(TrackOptions(dets=root / "dets", out=root / "tracks", overwrite=True))
    out = {"online": {"metrics": score(root / "tracks"), "summary": None}}
    for name, cfg in VARIANTS.items():
        pred = root / name.replace(" ", "_")
        summary = reid(ReidOptions(tracks=root / "tracks", dets=root / "dets", out=pred, frames=None, plot=False, overwrite=True,
                                   config=cfg))
        out[name] = {"metrics": score(pred), "summary": summary}
    lines = [f"\nKITTI-MOTS {'+'.join(SEQUENCES)} at {FPS:g} fps: {long_bursts} occlusions of {LONG[0]}-{LONG[1]} frames, "
             f"1-frame gaps, miss 5%, 0.3 FP/frame, embedding sigma {OCCLUDED.sigma}",
             f"{'variant':<22}{'IDF1 car':>9}{'IDF1 ped':>9}{'IDF1 avg':>9}{'IDSW car':>9}{'IDSW ped':>9}{'IDSW all':>9}{'tracks':>7}"]
    for name, r in out.items():
        m = r["metrics"]
        if r["summary"] is None:
            tracks = sum(1 for p in (root / "tracks").glob("*.txt") for _ in {ln.split()[1] for ln in p.read_text().splitlines()})
        else:
            tracks = sum(s["tracks_out"] for s in r["summary"]["sequences"].values())
        lines.append(f"{name:<22}{m['car']['IDF1']:>9.4f}{m['pedestrian']['IDF1']:>9.4f}{m['class_average']['IDF1']:>9.4f}"
                     f"{m['car']['IDSW']:>9d}{m['pedestrian']['IDSW']:>9d}{m['car']['IDSW'] + m['pedestrian']['IDSW']:>9d}{tracks:>7d}")
    print("\n".join(lines))
    out["root"] = root
    return out


def idsw_all(metrics: dict) -> int:
    return metrics["car"]["IDSW"] + metrics["pedestrian"]["IDSW"]


@pytest.mark.parametrize("name", ["remots theta_t 0.5 s", "dior N2 1.0 s", "remots theta_t 1.0 s", "dior N2 0.5 s"])
def test_refinement_beats_the_online_tracker(runs, name):
    online, refined = runs["online"]["metrics"], runs[name]["metrics"]
    for cls in CLASSES:
        assert refined[cls]["IDF1"] > online[cls]["IDF1"], (name, cls)
        assert refined[cls]["IDSW"] <= online[cls]["IDSW"], (name, cls)
    assert idsw_all(refined) < idsw_all(online), name


def test_defaults_are_the_paper_limits(runs):
    assert (ReidConfig().theta_t_seconds, ReidConfig().n2_seconds) == (0.5, 1.0)
    for name, frames in (("remots theta_t 0.5 s", 5), ("remots theta_t 1.0 s", 10)):
        assert {s["theta_t_frames"] for s in runs[name]["summary"]["sequences"].values()} == {frames}
    for name, frames in (("dior N2 0.5 s", 5), ("dior N2 1.0 s", 10)):
        assert {s["n2_frames"] for s in runs[name]["summary"]["sequences"].values()} == {frames}


@pytest.mark.parametrize("short, long", [("remots theta_t 0.5 s", "remots theta_t 1.0 s"), ("dior N2 0.5 s", "dior N2 1.0 s")])
def test_larger_gap_limit_bridges_longer_occlusions(runs, short, long):
    # gaps of 5-10 frames: 5 frames (0.5 s) bridges only the 4-frame bursts, 10 frames bridges them all
    a, b = runs[short]["metrics"], runs[long]["metrics"]
    assert b["class_average"]["IDF1"] >= a["class_average"]["IDF1"]
    assert idsw_all(b) <= idsw_all(a)
    key = "merges" if short.startswith("remots") else "joins"
    assert sum(s[key] for s in runs[long]["summary"]["sequences"].values()) > sum(s[key] for s in runs[short]["summary"]["sequences"].values())


def test_plot_and_thresholds(runs):
    root = runs["root"]
    summary = reid(ReidOptions(tracks=root / "tracks", dets=root / "dets", out=root / "plotted", frames=None, plot=True,
                               overwrite=True, config=ReidConfig(method="remots")))
    for seq in SEQUENCES:
        s = summary["sequences"][seq]
        assert s["theta_short"] < s["theta_merge"], (seq, s["theta_short"], s["theta_merge"])
        png = root / "plotted" / f"{seq}.thresholds.png"
        assert Path(s["plot"]) == png
        image = cv2.imread(str(png))
        assert image is not None and image.shape == (600, 640, 3)
        assert (image < 250).any()  # something is drawn
        assert s["different_identity"]["n"] > 0 and s["same_identity"]["n"] > 0
    assert not list((root / "remots_theta_t_0.5_s").glob("*.png"))  # no plot unless asked
