"""The online DIOR tracker (and its long-term re-ID) on real KITTI-MOTS motion.

Detections are simulated from real ground truth by :mod:`tests.track.simulate` (independent of
the tracker): misses, occlusion bursts, shifted masks, false positives and noisy per-identity
embeddings. Tracks are scored by ``dior evaluate`` (TrackEval's numbers).

* Perfect detections with clean embeddings: IDF1 1 and no identity switch with long-term
  re-ID on sequences whose ground truth has gaps of up to 8 frames, and with the online tracker
  alone on a sequence whose ground truth has no gap it cannot bridge.
* Noisy detections: appearance beats masks alone, and the DIOR ablation order holds for ID
  switches: Hungarian only >= + short-term retrieval >= + long-term re-ID (table printed; ``-s``).
* N1 and N2 are seconds: the same occlusions fragment tracks at 10 fps and not at 30 fps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from dior_cli.config import ReidConfig, TrackConfig
from dior_cli.evaluate.stage import EvaluateOptions
from dior_cli.evaluate.stage import run as evaluate
from dior_cli.track.stage import TrackOptions, run
from tests.conftest import KITTI_TXT, require
from tests.track.simulate import Burst, SimParams, max_interior_gap, read_gt, seq_lengths, simulate, simulate_folder, write_gt_folder

SEQMAP = KITTI_TXT.parent / "seqmaps" / "train.seqmap"
SEQUENCES = ["0000", "0005", "0012", "0017"]  # cars and pedestrians; 0005 cars only; 0017 pedestrians only
CLASS_IDS = {"car": 1, "pedestrian": 2}
NOISY = SimParams(
    miss_prob=0.05,
    bursts=(Burst((1, 1), rate=0.02), Burst((4, 9), rate=0.01)),  # short (N1 bridges) and long (only N2 does)
    max_shift=2,
    fp_per_frame=0.3,
    score=(0.6, 1.0),
    dim=128,
    sigma=0.4,
    seed=7,
)


def frames_at(seconds: float, fps: float) -> int:
    """A duration in frames, worked out here (not with dior's helper): at least one frame."""
    return max(1, int(round(seconds * fps)))


def classes_present(gt_path: Path) -> list[str]:
    present = {r.class_id for r in read_gt(gt_path)}
    return [name for name, c in CLASS_IDS.items() if c in present]


@pytest.fixture(scope="module")
def lengths() -> dict[str, int]:
    return seq_lengths(require(SEQMAP))


@pytest.fixture(scope="module")
def gt(tmp_path_factory, lengths) -> tuple[Path, Path]:
    require(KITTI_TXT)
    folder = tmp_path_factory.mktemp("gt")
    return folder, write_gt_folder(KITTI_TXT, SEQUENCES, folder, lengths)


def score(gt: tuple[Path, Path], pred: Path) -> dict:
    return evaluate(EvaluateOptions(gt=gt[0], pred=pred, benchmark="kitti-mots", seqmap=gt[1], workers=1))


# --- the simulator itself -------------------------------------------------------------------


def test_simulator_is_seeded_and_respects_ground_truth(lengths):
    require(KITTI_TXT)
    path = KITTI_TXT / "0012.txt"
    a = simulate(path, NOISY, num_frames=lengths["0012"])
    b = simulate(path, NOISY, num_frames=lengths["0012"])
    assert a.dets.detections.rles == b.dets.detections.rles and np.array_equal(a.embeddings, b.embeddings)
    d = a.dets.detections
    assert set(d.class_id.tolist()) <= {1, 2}  # ignore regions never become detections
    assert np.all(np.diff(d.frame) >= 0) and d.frame.max() < lengths["0012"]
    areas = mask_utils.area([{"size": r["size"], "counts": r["counts"].encode()} for r in d.rles])
    assert (areas > 0).all()
    assert np.allclose(np.linalg.norm(a.embeddings, axis=1), 1, atol=1e-5)
    assert (a.gt_ids == 0).sum() > 0  # false positives
    # every burst is a real gap: no detection of that identity inside, one on each side
    frames = {g: set(d.frame[a.gt_ids == g].tolist()) for g in np.unique(a.gt_ids)}
    for obj_id, first, length in a.bursts:
        assert not frames[obj_id] & set(range(first, first + length))
        assert min(frames[obj_id]) < first and max(frames[obj_id]) >= first + length


def test_simulated_embeddings_separate_identities(lengths):
    require(KITTI_TXT)
    sim = simulate(KITTI_TXT / "0017.txt", NOISY, num_frames=lengths["0017"])
    e, ids = sim.embeddings.astype(np.float64), sim.gt_ids
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(e), size=(2, 20000))
    pairs = (ids[i] > 0) & (ids[j] > 0) & (i != j)
    cos = np.einsum("nd,nd->n", e[i], e[j])
    same, different = cos[pairs & (ids[i] == ids[j])], cos[pairs & (ids[i] != ids[j])]
    assert abs(same.mean() - 1 / (1 + NOISY.sigma**2)) < 0.05  # noise norm ~ sigma
    assert np.quantile(same, 0.01) > np.quantile(different, 0.99) + 0.3


# --- perfect detections ---------------------------------------------------------------------


def test_perfect_detections_long_term_reid_is_perfect(tmp_path, gt, lengths):
    assert max(max_interior_gap(read_gt(KITTI_TXT / f"{s}.txt")) for s in SEQUENCES) >= 5  # real gaps to bridge
    simulate_folder(KITTI_TXT, SEQUENCES, tmp_path / "dets", SimParams(), num_frames=lengths)
    summary = run(TrackOptions(dets=tmp_path / "dets", out=tmp_path / "tracks", offline_reid=True, overwrite=True))
    assert sum(s["reid_joins"] for s in summary["sequences"].values()) > 0
    result = score(gt, tmp_path / "tracks")
    for seq in SEQUENCES:
        for cls in classes_present(KITTI_TXT / f"{seq}.txt"):
            m = result["per_sequence"][seq][cls]
            assert (m["IDF1"], m["IDSW"]) == (1.0, 0), (seq, cls, m["IDF1"], m["IDSW"])


def test_perfect_detections_online_is_perfect_without_long_gaps(tmp_path, lengths):
    require(KITTI_TXT)
    n1 = frames_at(TrackConfig().n1_seconds, 10.0)
    # a track missing for n1 frames is terminated: the online tracker bridges gaps of n1 - 1 frames
    assert max_interior_gap(read_gt(KITTI_TXT / "0000.txt")) <= n1 - 1
    assert max_interior_gap(read_gt(KITTI_TXT / "0017.txt")) > n1  # why the online tracker alone is not enough there
    simulate_folder(KITTI_TXT, ["0000"], tmp_path / "dets", SimParams(), num_frames=lengths)
    summary = run(TrackOptions(dets=tmp_path / "dets", out=tmp_path / "tracks", overwrite=True))
    assert summary["sequences"]["0000"]["tracks"] == len({r.obj_id for r in read_gt(KITTI_TXT / "0000.txt") if r.class_id != 10})
    result = score((tmp_path / "gt", write_gt_folder(KITTI_TXT, ["0000"], tmp_path / "gt", lengths)), tmp_path / "tracks")
    for cls in classes_present(KITTI_TXT / "0000.txt"):
        m = result["per_sequence"]["0000"][cls]
        assert (m["IDF1"], m["IDSW"]) == (1.0, 0), (cls, m["IDF1"], m["IDSW"])


# --- noisy detections: appearance and the ablation order --------------------------------------

VARIANTS = {
    "masks only": dict(masks_only=True),
    "Hungarian only": dict(retrieval=False),
    "+ retrieval": dict(),
    "+ long-term re-ID": dict(offline_reid=True),
}


@pytest.fixture(scope="module")
def ablation(tmp_path_factory, gt, lengths) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("noisy")
    sims = simulate_folder(KITTI_TXT, SEQUENCES, root / "dets", NOISY, num_frames=lengths)
    long_bursts = sum(1 for s in sims.values() for _, _, n in s.bursts if n >= 4)
    short_bursts = sum(1 for s in sims.values() for _, _, n in s.bursts if n == 1)
    assert long_bursts >= 5 and short_bursts >= 10, (long_bursts, short_bursts)
    out = {}
    for name, kwargs in VARIANTS.items():
        pred = root / name.replace(" ", "_").replace("+", "plus")
        summary = run(TrackOptions(dets=root / "dets", out=pred, overwrite=True, **kwargs))
        out[name] = {"metrics": score(gt, pred)["combined"], "summary": summary}
    lines = [f"\nnoisy KITTI-MOTS {'+'.join(SEQUENCES)}: {short_bursts} 1-frame and {long_bursts} 4-9-frame bursts, "
             f"miss 5%, shift 2 px, 0.3 FP/frame, embedding sigma {NOISY.sigma}",
             f"{'variant':<20}{'IDF1 car':>9}{'IDF1 ped':>9}{'IDF1 avg':>9}{'IDSW car':>9}{'IDSW ped':>9}{'IDSW all':>9}"
             f"{'HOTA avg':>9}{'tracks':>7}"]
    for name, r in out.items():
        m = r["metrics"]
        tracks = sum(s["tracks"] for s in r["summary"]["sequences"].values())
        lines.append(f"{name:<20}{m['car']['IDF1']:>9.4f}{m['pedestrian']['IDF1']:>9.4f}{m['class_average']['IDF1']:>9.4f}"
                     f"{m['car']['IDSW']:>9d}{m['pedestrian']['IDSW']:>9d}{m['car']['IDSW'] + m['pedestrian']['IDSW']:>9d}"
                     f"{m['class_average']['HOTA']:>9.4f}{tracks:>7d}")
    print("\n".join(lines))
    return out


@pytest.mark.parametrize("cls", ["car", "pedestrian", "class_average"])
def test_appearance_beats_masks_alone(ablation, cls):
    masks = ablation["masks only"]["metrics"][cls]["IDF1"]
    assert ablation["+ retrieval"]["metrics"][cls]["IDF1"] > masks
    assert ablation["+ long-term re-ID"]["metrics"][cls]["IDF1"] > masks


@pytest.mark.parametrize("cls", ["car", "pedestrian"])
def test_ablation_order_of_id_switches(ablation, cls):
    idsw = [ablation[name]["metrics"][cls]["IDSW"] for name in ("Hungarian only", "+ retrieval", "+ long-term re-ID")]
    assert idsw[0] >= idsw[1] >= idsw[2], idsw
    assert idsw[0] > idsw[2]  # the whole method removes switches, not only keeps their number


def test_ablation_components_do_their_work(ablation):
    seqs = {name: r["summary"]["sequences"] for name, r in ablation.items()}
    assert sum(s["retrieved"] for s in seqs["Hungarian only"].values()) == 0
    assert sum(s["retrieved"] for s in seqs["+ retrieval"].values()) > 0
    assert sum(s["reid_joins"] for s in seqs["+ long-term re-ID"].values()) > 0
    assert all(s["appearance"] for s in seqs["+ retrieval"].values()) and not any(s["appearance"] for s in seqs["masks only"].values())


# --- N1 and N2 follow the frame rate ---------------------------------------------------------


def _track(dets: Path, out: Path, **kwargs) -> dict:
    return run(TrackOptions(dets=dets, out=out, overwrite=True, **kwargs))["sequences"]


FPS_SEQUENCES = ["0000", "0003"]  # ground truth without gaps: every fragment comes from a simulated burst


def test_n1_follows_frame_rate(tmp_path, lengths):
    require(KITTI_TXT)
    assert all(max_interior_gap(read_gt(KITTI_TXT / f"{s}.txt")) == 0 for s in FPS_SEQUENCES)
    n1_10, n1_30 = frames_at(TrackConfig().n1_seconds, 10), frames_at(TrackConfig().n1_seconds, 30)
    assert n1_10 - 1 < 3 <= n1_30 - 1  # the 3-frame gap is bridged only at 30 fps
    params = dict(bursts=(Burst((1, 1), per_track=1), Burst((3, 3), per_track=1)))
    sims = simulate_folder(KITTI_TXT, FPS_SEQUENCES, tmp_path / "d10", SimParams(fps=10.0, **params), num_frames=lengths)
    simulate_folder(KITTI_TXT, FPS_SEQUENCES, tmp_path / "d30", SimParams(fps=30.0, **params), num_frames=lengths)
    at10 = _track(tmp_path / "d10", tmp_path / "t10")
    at30 = _track(tmp_path / "d30", tmp_path / "t30")  # fps written in the detections file
    override = _track(tmp_path / "d10", tmp_path / "t30o", fps=30.0)  # TrackOptions.fps
    for seq, sim in sims.items():
        ones = sum(1 for _, _, n in sim.bursts if n == 1)
        threes = sum(1 for _, _, n in sim.bursts if n == 3)
        assert ones > 0 and threes > 0
        assert at10[seq]["tracks"] == sim.num_identities + threes  # each 3-frame gap breaks a track at 10 fps
        assert at10[seq]["retrieved"] == ones  # 1-frame gaps are bridged by short-term retrieval
        assert at30[seq]["tracks"] == override[seq]["tracks"] == sim.num_identities
        assert at30[seq]["retrieved"] == override[seq]["retrieved"] == ones + threes
        assert (at10[seq]["fps"], at30[seq]["fps"], override[seq]["fps"]) == (10.0, 30.0, 30.0)
    assert (tmp_path / "t30" / "0000.txt").read_bytes() == (tmp_path / "t30o" / "0000.txt").read_bytes()
    # scored: every 3-frame gap is one identity switch at 10 fps, none at 30 fps
    seqmap = write_gt_folder(KITTI_TXT, FPS_SEQUENCES, tmp_path / "gt", lengths)
    for out, expected in (("t10", {s: sum(1 for _, _, n in sim.bursts if n == 3) for s, sim in sims.items()}), ("t30", dict.fromkeys(sims, 0))):
        result = score((tmp_path / "gt", seqmap), tmp_path / out)["per_sequence"]
        for seq in FPS_SEQUENCES:
            present = classes_present(KITTI_TXT / f"{seq}.txt")
            assert sum(result[seq][cls]["IDSW"] for cls in present) == expected[seq], (out, seq)


def test_n2_follows_frame_rate(tmp_path, lengths):
    require(KITTI_TXT)
    n2_10, n2_30 = frames_at(ReidConfig().n2_seconds, 10), frames_at(ReidConfig().n2_seconds, 30)
    # gaps of 12-16 missing frames: the tracklets are 13-17 frames apart, more than N2 at 10 fps, within it at 30
    assert n2_10 < 13 and 17 <= n2_30
    params = SimParams(bursts=(Burst((12, 16), per_track=1),))
    sims = simulate_folder(KITTI_TXT, FPS_SEQUENCES, tmp_path / "dets", params, num_frames=lengths)
    at10 = _track(tmp_path / "dets", tmp_path / "t10", offline_reid=True)
    at30 = _track(tmp_path / "dets", tmp_path / "t30", offline_reid=True, fps=30.0)
    assert sum(len(s.bursts) for s in sims.values()) >= 5
    for seq, sim in sims.items():
        assert at10[seq]["reid_joins"] == 0 and at10[seq]["tracks"] == sim.num_identities + len(sim.bursts)
        assert at30[seq]["reid_joins"] == len(sim.bursts) and at30[seq]["tracks"] == sim.num_identities
