"""dior render on real KITTI-MOTS ground truth (sequence 0012, first 20 frames) drawn over
generated frames of KITTI's size (375 x 1242)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.formats.mots_txt import read_mots_txt, write_mots_txt
from dior_cli.masks import decode
from dior_cli.render.colours import track_colour

from tests.conftest import DATA as SHARED, require

DATA = SHARED / "kitti_mots" / "instances_txt" / "0012.txt"
NUM_FRAMES = 20
GREY = 100  # every generated frame is this flat grey


@pytest.fixture(scope="module")
def kitti(tmp_path_factory):
    require(DATA)
    root = tmp_path_factory.mktemp("kitti")
    rows = read_mots_txt(DATA, 0)
    rows = rows[np.flatnonzero(rows.frame < NUM_FRAMES)]
    write_mots_txt(root / "tracks" / "0012.txt", rows, frame_base=0)
    images = root / "frames" / "images" / "0012"
    images.mkdir(parents=True)
    for i in range(NUM_FRAMES):
        cv2.imwrite(str(images / f"{i:06d}.png"), np.full((375, 1242, 3), GREY, np.uint8))
    return root, rows


def _render(args):
    result = CliRunner().invoke(app, ["render", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def test_video_has_every_frame_padded_to_even_size(kitti):
    root, _ = kitti
    _render([root / "tracks", "--frames", root / "frames", "--out", root / "out.mp4", "--trail", 5])
    capture = cv2.VideoCapture(str(root / "out.mp4"))
    count = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        assert image.shape == (376, 1242, 3)  # 375 rows + 1 padding row
        count += 1
    capture.release()
    assert count == NUM_FRAMES
    assert not list(root.glob(".out*"))  # no temporary file left behind


def _deep_pixel(mask: np.ndarray) -> tuple[tuple[int, int], float]:
    """The mask pixel farthest from its border, and that distance."""
    dist = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(np.argmax(dist), dist.shape)
    return (int(y), int(x)), float(dist[y, x])


def test_mask_pixels_carry_their_track_colour_blended_in(kitti, tmp_path):
    root, rows = kitti
    _render([root / "tracks", "--frames", root / "frames", "--out-dir", tmp_path / "a"])
    _render([root / "tracks", "--frames", root / "frames", "--out-dir", tmp_path / "b"])
    files = sorted((tmp_path / "a").glob("*.png"))
    assert [f.name for f in files] == [f"{i:06d}.png" for i in range(NUM_FRAMES)]
    # same bytes across runs: colours (and everything else) are stable
    for f in files:
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes()
    seen: dict[int, set] = {}
    checked = agreeing = 0
    for t in range(NUM_FRAMES):
        image = cv2.cvtColor(cv2.imread(str(files[t])), cv2.COLOR_BGR2RGB)
        assert image.shape == (375, 1242, 3)  # PNG frames keep the size
        for r in np.flatnonzero((rows.frame == t) & (rows.class_id != 10)):
            (y, x), depth = _deep_pixel(decode(rows.rles[r]))
            if depth < 4:
                continue
            checked += 1
            colour = track_colour(int(rows.obj_id[r]))
            # alpha 0.5 over flat grey 100: (100 + c) / 2, rounded half to even
            expected = tuple(int(np.rint((GREY + c) / 2)) for c in colour)
            if tuple(int(v) for v in image[y, x]) == expected:
                agreeing += 1
                seen.setdefault(int(rows.obj_id[r]), set()).add(expected)
    assert checked > 30
    assert agreeing >= 0.9 * checked  # the rest lie under another object's label
    assert all(len(c) == 1 for c in seen.values())  # one colour per id across frames
    assert len({next(iter(c)) for c in seen.values()}) == len(seen)  # ids told apart


def test_colour_is_a_pure_function_of_the_id():
    assert track_colour(2001) == track_colour(2001)
    assert track_colour(2001) != track_colour(2002)
    for obj_id in range(1000, 3000):
        r, g, b = track_colour(obj_id)
        # never the error colours: red (FP) or yellow (miss) have blue low and red high
        assert not (r > 200 and b < 80)
