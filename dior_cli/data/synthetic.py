"""A synthetic MOTS dataset: textured cars and pedestrians that cross and hide each other.

Each sequence is a fixed textured background with ``objects`` moving shapes of two classes:

- car (MOTS class 1): a rounded rectangle about twice as wide as tall;
- pedestrian (class 2): an ellipse about 2.5 times as tall as wide.

Every object has its own appearance (two colours and a pattern: horizontal stripes,
vertical stripes, checks or diagonal stripes, at its own frequency), drawn in the object's
own coordinates so it moves with the object. Shapes of one class differ only in size, so a
model must learn appearance, not shape, to tell two objects of one class apart.

Objects move along a few shared horizontal lanes at constant speed and bounce at the image
edges, so objects of a lane cross one another again and again. Each object has a depth: the
nearer one is drawn larger, in front, and hides the farther one, often completely for a
few frames, after which it reappears on the other side. Keeping an identity through such a
crossing needs appearance (mask overlap alone sees a new object).

Ground truth is exact: an object's mask is its shape minus the shapes in front of it.
Visible parts smaller than ``min_visible_pixels`` are written as an ignore region (class 10,
object id 10000) rather than as an object, the way KITTI-MOTS marks fragments too small to
annotate; an object with no visible pixel has no row in that frame.

Output is the KITTI-MOTS layout (0-based frames)::

    ROOT/images/<seq>/000000.png ...      RGB frames
    ROOT/instances_txt/<seq>.txt          MOTS txt: frame obj_id class_id height width rle

Sequences are named ``synth0000``, ``synth0001``, ...; everything is a pure function of
``(config, seed, sequence index)``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dior_cli.errors import ConfigError
from dior_cli.formats.mots_txt import write_mots_txt
from dior_cli.masks import encode
from dior_cli.records import CAR, IGNORE, PEDESTRIAN, MotsRows, mots_obj_id

IGNORE_OBJ_ID = 10000
PATTERNS = ("h-stripes", "v-stripes", "checks", "diagonal")


@dataclass(frozen=True)
class SyntheticConfig:
    """How each synthetic sequence looks (sizes in pixels, speeds in pixels per frame).

    Attributes:
        height, width: frame size.
        frames: frames per sequence.
        objects: objects per sequence (about half cars, half pedestrians).
        lanes: horizontal lanes the objects share (fewer lanes, more crossings).
        min_speed, max_speed: horizontal speed range at a 160-pixel-wide frame; scaled with ``width``.
        object_scale: object size relative to the frame (pedestrians are ``0.42 * height *
            object_scale`` tall at depth 1, cars ``0.30 * width * object_scale`` wide).
        noise: standard deviation of the per-frame sensor noise, grey levels (0-255).
        min_visible_pixels: visible parts smaller than this become ignore regions.
    """

    height: int = 128
    width: int = 160
    frames: int = 40
    objects: int = 6
    lanes: int = 2
    min_speed: float = 1.5
    max_speed: float = 3.5
    object_scale: float = 1.0
    noise: float = 3.0
    min_visible_pixels: int = 24

    def __post_init__(self) -> None:
        checks = {
            "height and width must be at least 32": min(self.height, self.width) >= 32,
            "frames must be at least 1": self.frames >= 1,
            "objects must be at least 1": self.objects >= 1,
            "lanes must be at least 1": self.lanes >= 1,
            "speeds must satisfy 0 <= min_speed <= max_speed": 0 <= self.min_speed <= self.max_speed,
            "object_scale must be in (0, 2]": 0 < self.object_scale <= 2,
            "noise must not be negative": self.noise >= 0,
            "min_visible_pixels must be at least 1": self.min_visible_pixels >= 1,
        }
        for message, ok in checks.items():
            if not ok:
                raise ConfigError(f"synthetic data: {message}")


@dataclass(frozen=True)
class _Object:
    """One moving object: class, depth, size, lane, motion and appearance."""

    class_id: int
    k: int  # instance number within the class: obj_id = class_id * 1000 + k
    depth: float  # larger = nearer = drawn later and larger
    half_w: float
    half_h: float
    lane_y: float
    x0: float
    velocity: float
    colours: np.ndarray  # (2, 3) float RGB
    pattern: str
    period: float  # pixels per pattern cycle, in object coordinates (6-14 at a 128-pixel-wide frame)
    phase: float

    def centre_x(self, t: int, width: int) -> float:
        """x of the centre at frame ``t``: constant speed, bouncing between the image edges."""
        low, high = self.half_w * 0.5, width - self.half_w * 0.5  # the centre may leave by half a width
        span = high - low
        s = (self.x0 - low + self.velocity * t) % (2 * span)  # position along an unfolded path
        return low + (s if s <= span else 2 * span - s)


def generate_sequence(config: SyntheticConfig, seed: int) -> Iterator[tuple[np.ndarray, MotsRows]]:
    """Yield ``(image (H, W, 3) uint8 RGB, rows of this frame)`` for frames ``0..frames-1``."""
    rng = np.random.default_rng(seed)
    h, w = config.height, config.width
    background = _background(rng, h, w)  # (H, W, 3) float
    objects = _objects(rng, config)
    order = sorted(objects, key=lambda o: o.depth)  # far to near
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)  # (H, W) each
    for t in range(config.frames):
        image = background.copy()  # (H, W, 3)
        shapes = []
        for obj in order:
            cx = obj.centre_x(t, w)
            shape = _shape(obj, xs - cx, ys - obj.lane_y)  # (H, W) bool
            image[shape] = _texture(obj, xs[shape] - cx, ys[shape] - obj.lane_y)  # (P, 3)
            shapes.append(shape)
        image += rng.normal(0.0, config.noise, size=image.shape)
        rows = _frame_rows(t, order, shapes, config.min_visible_pixels)
        yield np.clip(image, 0, 255).astype(np.uint8), rows


def write_dataset(
    root: str | os.PathLike, *, sequences: int, config: SyntheticConfig, seed: int = 0, first_index: int = 0, overwrite: bool = False
) -> dict:
    """Write ``sequences`` synthetic sequences under ``root`` in the KITTI-MOTS layout.

    Sequence ``i`` (named ``synth{i:04d}``, for ``i`` from ``first_index``) is generated from
    seed ``seed * 100003 + i``, so sequences are independent and reproducible one by one. Each
    sequence is written to a temporary folder and moved into place when complete; an existing
    sequence is an error unless ``overwrite``.

    Returns:
        A summary: per sequence its frames, object rows, ignore rows and identities.
    """
    if sequences < 1:
        raise ConfigError("synthetic data: sequences must be at least 1")
    root = Path(root)
    summary: dict = {"schema": "dior.synthetic-summary/v1", "root": str(root), "config": dataclasses.asdict(config), "seed": seed, "sequences": {}}
    for i in range(first_index, first_index + sequences):
        name = f"synth{i:04d}"
        summary["sequences"][name] = _write_sequence(root, name, config, seed * 100003 + i, overwrite)
    return summary


def _write_sequence(root: Path, name: str, config: SyntheticConfig, seed: int, overwrite: bool) -> dict:
    image_dir, txt_path = root / "images" / name, root / "instances_txt" / f"{name}.txt"
    if not overwrite and (image_dir.exists() or txt_path.exists()):
        raise ConfigError(f"synthetic data: sequence {name} already exists under {root} (use --overwrite)")
    (root / "images").mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root / "images"))
    try:
        parts = []
        for t, (image, rows) in enumerate(generate_sequence(config, seed)):
            if not cv2.imwrite(str(staging / f"{t:06d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
                raise OSError(f"cannot write {staging / f'{t:06d}.png'}")
            parts.append(rows)
        rows = _concat_rows(parts)
        write_mots_txt(txt_path, rows, frame_base=0)
        if image_dir.exists():
            shutil.rmtree(image_dir)
        os.replace(staging, image_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    objects = rows.class_id != IGNORE
    return {"frames": config.frames, "object_rows": int(objects.sum()), "ignore_rows": int((~objects).sum()),
            "identities": len(set(rows.obj_id[objects].tolist()))}


def _objects(rng: np.random.Generator, config: SyntheticConfig) -> list[_Object]:
    h, w = config.height, config.width
    lanes = np.linspace(0.35, 0.7, config.lanes) * h if config.lanes > 1 else np.array([0.55 * h])
    hues = (rng.random() + np.arange(config.objects) / config.objects) % 1.0  # evenly spaced: distinct colours
    rng.shuffle(hues)
    speed_scale = w / 160.0  # speeds and pattern periods scale with the frame width: a scene looks alike at any size
    objects, counts = [], {CAR: 0, PEDESTRIAN: 0}
    for i in range(config.objects):
        class_id = CAR if i % 2 == 0 else PEDESTRIAN
        counts[class_id] += 1
        depth = float(rng.uniform(0.8, 1.2))
        if class_id == CAR:
            half_w = 0.15 * w * config.object_scale * depth
            half_h = half_w * rng.uniform(0.45, 0.55)
        else:
            half_h = 0.21 * h * config.object_scale * depth
            half_w = half_h * rng.uniform(0.36, 0.44)
        lane_y = float(lanes[(i // 2) % len(lanes)] + rng.uniform(-0.04, 0.04) * h + (depth - 1.0) * 0.15 * h)  # nearer sits lower
        speed = rng.uniform(config.min_speed, config.max_speed) * speed_scale
        objects.append(_Object(
            class_id=class_id, k=counts[class_id], depth=depth, half_w=float(half_w), half_h=float(half_h), lane_y=lane_y,
            x0=float(rng.uniform(0, w)), velocity=float(speed * rng.choice([-1.0, 1.0])),
            colours=_colour_pair(hues[i], rng), pattern=PATTERNS[int(rng.integers(len(PATTERNS)))],
            period=float(rng.uniform(6.0, 14.0) * (w / 128.0)), phase=float(rng.uniform(0, 1)),
        ))
    return objects


def _colour_pair(hue: float, rng: np.random.Generator) -> np.ndarray:
    """Two saturated colours ``(2, 3)`` RGB 0-255: one of ``hue``, one a third of the circle on."""
    second = (hue + rng.uniform(0.25, 0.45)) % 1.0
    return np.stack([_hsv_to_rgb(hue, 0.85, 230.0), _hsv_to_rgb(second, 0.7, 120.0)])


def _hsv_to_rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    """One colour from HSV (hue in [0, 1)) as float RGB 0-255."""
    offsets = np.array([0.0, 2.0 / 3.0, 1.0 / 3.0])  # R, G, B
    wave = np.clip(np.abs(((hue + offsets) % 1.0) * 6.0 - 3.0) - 1.0, 0.0, 1.0)  # (3,) pure hue
    return value * (1.0 - saturation + saturation * wave)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A muted, smoothly varying background ``(H, W, 3)`` float with fine grain."""
    coarse = rng.uniform(70, 150, size=(4, 5, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)  # (H, W, 3)
    grain = rng.normal(0.0, 8.0, size=(h, w, 1)).astype(np.float32)
    return (smooth + grain).astype(np.float64)


def _shape(obj: _Object, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Pixels ``(H, W)`` inside the object centred at offsets ``dx, dy`` from its centre."""
    u, v = dx / obj.half_w, dy / obj.half_h  # object coordinates, edges at +-1
    if obj.class_id == PEDESTRIAN:
        return u * u + v * v <= 1.0
    return np.abs(u) ** 6 + np.abs(v) ** 6 <= 1.0  # rounded rectangle: a superellipse of order 6


def _texture(obj: _Object, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Colours ``(P, 3)`` of the object's pixels at offsets ``dx, dy`` (object coordinates)."""
    a, b = dx / obj.period + obj.phase, dy / obj.period + obj.phase
    if obj.pattern == "h-stripes":
        first = np.floor(b * 2) % 2 == 0
    elif obj.pattern == "v-stripes":
        first = np.floor(a * 2) % 2 == 0
    elif obj.pattern == "checks":
        first = (np.floor(a * 2) + np.floor(b * 2)) % 2 == 0
    else:
        first = np.floor(a + b) % 2 == 0
    return np.where(first[:, None], obj.colours[0], obj.colours[1])  # (P, 3)


def _frame_rows(t: int, order: list[_Object], shapes: list[np.ndarray], min_visible: int) -> MotsRows:
    """Visible masks of one frame: each shape minus the shapes in front of it."""
    frames, obj_ids, class_ids, rles = [], [], [], []
    covered = np.zeros_like(shapes[0])  # (H, W) bool: pixels taken by nearer objects
    visible = [None] * len(order)
    for i in range(len(order) - 1, -1, -1):  # near to far
        visible[i] = shapes[i] & ~covered
        covered |= shapes[i]
    fragments = np.zeros_like(covered)
    for obj, mask in sorted(zip(order, visible), key=lambda pair: (pair[0].class_id, pair[0].k)):
        pixels = int(mask.sum())
        if pixels >= min_visible:
            frames.append(t)
            obj_ids.append(mots_obj_id(obj.class_id, obj.k))
            class_ids.append(obj.class_id)
            rles.append(encode(mask))
        elif pixels > 0:
            fragments |= mask
    if fragments.any():
        frames.append(t)
        obj_ids.append(IGNORE_OBJ_ID)
        class_ids.append(IGNORE)
        rles.append(encode(fragments))
    return MotsRows(frame=frames, obj_id=obj_ids, class_id=class_ids, rles=rles)


def _concat_rows(parts: list[MotsRows]) -> MotsRows:
    return MotsRows(
        frame=np.concatenate([np.zeros(0, np.int64), *[p.frame for p in parts]]),
        obj_id=np.concatenate([np.zeros(0, np.int64), *[p.obj_id for p in parts]]),
        class_id=np.concatenate([np.zeros(0, np.int64), *[p.class_id for p in parts]]),
        rles=tuple(r for p in parts for r in p.rles),
    )
