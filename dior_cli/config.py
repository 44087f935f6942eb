"""Stage configuration: one frozen dataclass per stage, loaded from YAML and ``--set``.

A config file is YAML with one mapping per stage, for example::

    track:
      n1_seconds: 0.2
    reid:
      n2_seconds: 1.0

Each field carries its meaning and unit in ``metadata`` (shown by ``dior config`` and in
``examples/config.yaml``). Numbers the papers give are defaults here, in seconds where the
paper speaks of time, so they hold at any frame rate. Unknown sections and keys are
refused with the list of valid ones; values are checked against the field's type.
``--set key=value`` (or ``--set stage.key=value``) overrides the file; values are parsed
as YAML scalars (``--set n1_seconds=0.3``).

Stages add their own fields here as they land; algorithm classes never see these objects
(the stage maps fields to keyword arguments). The network's own settings travel inside its
checkpoint (:class:`dior_cli.model.config.ModelConfig`), so ``dior infer`` needs none here.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from dior_cli.errors import ConfigError, InputNotFound


def option(default: Any, help: str, unit: str | None = None, source: str | None = None) -> Any:
    """A config field with its meaning, unit and (for paper values) its source."""
    return field(default=default, metadata={"help": help, "unit": unit, "source": source})


FIXED_MATCH_MAX_COST = 1.2
"""track.match_max_cost with fixed appearance gates: without mask overlap a match needs cosine >= 0.8."""
FIXED_RETRIEVAL_MIN_SIMILARITY = 0.6
"""track.retrieval_min_similarity with fixed appearance gates."""
FIXED_THETA_1 = 0.7
"""reid.theta_1 with theta_1_gate fixed (DIOR names theta_1 but gives no value: dior's own)."""
MATCH_GATE_SIGMA = 4.0
RETRIEVAL_GATE_SIGMA = 3.5
THETA_1_SIGMA = 3.0
"""Default k of the auto gates (gate = mean + k std of intra-frame cosines), chosen by measurement."""


@dataclass(frozen=True)
class TrackConfig:
    """``dior track``: the online DIOR tracker."""

    n1_seconds: float = option(0.2, "a track with no match for this long is terminated (at least one frame)", "s", "DIOR sec. 4.1 (N1)")
    stack_first: int = option(5, "embeddings from a track's first frames kept in its feature stack", "frames", "DIOR sec. 3.4")
    stack_recent: int = option(5, "embeddings from a track's most recent frames kept in its feature stack", "frames", "DIOR sec. 3.4")
    match_min_iom: float = option(0.0, "matching gate: least IoM between a detection and the track's mask in the previous frame (0 = off: appearance can carry a match across a jump)", "fraction")
    match_min_similarity: float = option(0.2, "matching gate: least max-cosine between a detection and the track's feature stack", "cosine")
    appearance_gates: Literal["auto", "fixed"] = option("auto", "auto: match_max_cost and retrieval_min_similarity, where not given a number, are read from the sequence: gate = min(fixed value, mean + k std of the cosines between distinct detections of one frame) (same class; the first 200 frames holding such a pair; the fixed value where fewer than 30 pairs exist): lower gates for encoders whose distinct objects look less alike than OSNet's, never higher; fixed: dior's fixed values (no-overlap cosine 0.8, retrieval 0.6), which suit OSNet")
    match_max_cost: float | None = option(None, f"matching gate: largest cost 2 - IoM - max-cosine, so a match without mask overlap needs cosine >= 2 - match_max_cost; null: 2 - min(0.8, mean + match_gate_sigma std) with auto gates, {FIXED_MATCH_MAX_COST} with fixed ones (cosine >= {2 - FIXED_MATCH_MAX_COST:.1f} without overlap); on masks alone the gate is IoM > 0", "cost")
    retrieval_min_similarity: float | None = option(None, f"short-term retrieval gate: least max-cosine with a lost track's feature stack; null: min(0.6, mean + retrieval_gate_sigma std) with auto gates, {FIXED_RETRIEVAL_MIN_SIMILARITY} with fixed ones", "cosine")
    match_gate_sigma: float = option(MATCH_GATE_SIGMA, "auto gates: a match without mask overlap needs cosine >= min(0.8, mean + this many std of the intra-frame (different-identity) cosines); chosen by measurement (README, dior track, appearance gates)", "std")
    retrieval_gate_sigma: float = option(RETRIEVAL_GATE_SIGMA, "auto gates: short-term retrieval needs max-cosine >= min(0.6, mean + this many std of the intra-frame cosines); chosen by measurement (README, dior track, appearance gates)", "std")
    retrieval_min_iom: float = option(0.3, "short-term retrieval gate on masks alone: least IoM with a lost track's last mask", "fraction")
    new_track_score: float = option(0.5, "least detection score that starts a new track", "score")

    def __post_init__(self) -> None:
        _require(self.n1_seconds > 0, "track.n1_seconds must be positive")
        _require(0 <= self.match_min_iom <= 1 and 0 <= self.retrieval_min_iom <= 1, "track.*_min_iom must be in [0, 1]")
        _require(self.stack_first >= 0 and self.stack_recent >= 1, "track.stack_first must be >= 0 and track.stack_recent >= 1")
        _require(self.match_max_cost is None or 0 <= self.match_max_cost <= 3, "track.match_max_cost must be in [0, 3] (or null: read from the data)")
        _require(self.retrieval_min_similarity is None or -1 <= self.retrieval_min_similarity <= 1, "track.retrieval_min_similarity must be in [-1, 1] (or null)")
        _require(abs(self.match_gate_sigma) < 100 and abs(self.retrieval_gate_sigma) < 100, "track.match_gate_sigma and retrieval_gate_sigma must be finite numbers of std (|k| < 100)")


@dataclass(frozen=True)
class ReidConfig:
    """``dior reid`` and ``dior track --offline-reid``: offline re-linking of tracklets."""

    method: Literal["remots", "dior"] = option("remots", "remots: hierarchical merging with data-driven thresholds; dior: long-term re-ID")
    n2_seconds: float = option(1.0, "dior method: largest time gap between two tracklets that may be joined", "s", "DIOR sec. 4.1 (N2)")
    theta_1: float | None = option(None, f"dior method: two tracklets are joined only if their appearance cosine exceeds this (DIOR sec. 3.4's theta_1; the paper gives no value); null: min(0.7, mean + theta_1_sigma std of the intra-frame cosines) with theta_1_gate auto, {FIXED_THETA_1} (dior's own default) with fixed", "cosine")
    theta_1_gate: Literal["auto", "fixed"] = option("fixed", f"dior method (and dior track --offline-reid), theta_1 unset: fixed: {FIXED_THETA_1}; auto: read from the sequence like track.appearance_gates (the fixed value where fewer than 30 intra-frame pairs exist). Fixed by default: over a long video a lowered theta_1 finds chance look-alikes among the many candidates and joins distinct objects (measured, README dior reid)")
    theta_1_sigma: float = option(THETA_1_SIGMA, "theta_1_gate auto: theta_1 = min(0.7, mean + this many std of the intra-frame (different-identity) cosines); chosen by measurement (README, dior track, appearance gates)", "std")
    theta_t_seconds: float = option(0.5, "remots method: largest time gap between merged tracklets (15 frames at 30 fps)", "s", "ReMOTS sec. 2.5 (theta_t)")
    sigma_k: float = option(3.0, "remots method: theta_short = mean + sigma_k * std of different-identity similarities", "std", "ReMOTS sec. 2.3 (theta_app_short)")
    flow_scale: float = option(0.5, "remots method with --frames: resolution factor at which optical flow is computed", "fraction")
    short_term: Literal["remots", "cut"] = option("remots", "remots method with --frames: remots: ReMOTS's short-term tracker (adjacent frames, flow-warped mask IoU > 0, cosine >= theta_short, linear assignment; input ids ignored); cut: cut the input tracks where flow or appearance disagree", None, "ReMOTS sec. 2.3")
    linkage: Literal["centroid", "average"] = option("centroid", "remots method: cluster distance when merging: centroid (||m_a - m_b||^2 / 2 of the mean unit embeddings; 1 - cos for single observations) or average (mean pairwise 1 - cos)", None, "ReMOTS sec. 2.5 (centroid linkage)")

    def __post_init__(self) -> None:
        _require(self.n2_seconds > 0 and self.theta_t_seconds > 0, "reid.n2_seconds and reid.theta_t_seconds must be positive")
        _require(self.sigma_k >= 0, "reid.sigma_k must not be negative")
        _require(self.theta_1 is None or -1 <= self.theta_1 <= 1, "reid.theta_1 must be in [-1, 1] (or null: read from the data)")
        _require(abs(self.theta_1_sigma) < 100, "reid.theta_1_sigma must be a finite number of std (|k| < 100)")
        _require(0 < self.flow_scale <= 1, "reid.flow_scale must be in (0, 1]")


@dataclass(frozen=True)
class AdaptConfig:
    """``dior adapt``: fine-tuning OSNet on a video's own detections (ReMOTS sec. 2.2-2.4)."""

    # key names differ from train:'s and reid:'s, so a bare --set key=value of dior config stays unambiguous

    intra_steps: int = option(100, "step 1: optimiser steps on intra-frame triplets (positive: a strong augmentation of the anchor; negatives: other detections of its frame)", "steps", "ReMOTS sec. 2.2")
    inter_steps: int = option(100, "step 3: optimiser steps on inter-short-tracklet triplets (positive: the tracklet at another frame; negatives: other tracklets of the frame)", "steps", "ReMOTS sec. 2.4")
    batch_identities: int = option(8, "identities (labels) per batch; each gives two crops (anchor, positive)", "identities")
    max_per_frame: int = option(4, "largest number of identities one frame contributes to a batch (the rest come from other frames)", "identities")
    learning_rate: float = option(1e-4, "Adam learning rate", "1/step")
    adam_weight_decay: float = option(5e-4, "Adam L2 weight decay", "1/step")
    margin: float = option(0.3, "triplet margin, in cosine distance (1 - cos)", "distance")
    short_term_sigma_k: float = option(3.0, "step 2: theta_short = mean + this many std of intra-frame similarities (step-1 encoder)", "std", "ReMOTS sec. 2.3")
    short_term_flow_scale: float = option(0.5, "step 2: resolution factor at which optical flow is computed", "fraction")
    sampling_seed: int = option(0, "seed of the batches, the augmentation and torch")
    train_data_identities: int = option(50, "--train-data: identities kept per labelled sequence (seen in 2+ frames; drawn at random when more)", "identities")
    train_data_views: int = option(4, "--train-data: views kept per labelled identity, spread evenly over its frames", "views")

    def __post_init__(self) -> None:
        _require(self.train_data_identities >= 1 and self.train_data_views >= 2, "adapt.train_data_identities must be at least 1 and adapt.train_data_views at least 2")
        _require(self.intra_steps >= 0 and self.inter_steps >= 0, "adapt.intra_steps and adapt.inter_steps must not be negative")
        _require(self.batch_identities >= 2 and self.max_per_frame >= 2, "adapt.batch_identities and adapt.max_per_frame must be at least 2")
        _require(self.learning_rate > 0 and self.adam_weight_decay >= 0 and self.margin >= 0, "adapt.learning_rate must be positive, adam_weight_decay and margin not negative")
        _require(self.short_term_sigma_k >= 0, "adapt.short_term_sigma_k must not be negative")
        _require(0 < self.short_term_flow_scale <= 1, "adapt.short_term_flow_scale must be in (0, 1]")


@dataclass(frozen=True)
class TrainConfig:
    """``dior train``: the optimiser, its schedule, checkpoints and augmentation (the network's own settings are the model: section)."""

    iterations: int = option(20000, "optimiser steps in all (each step sees batch clips on every process)", "iterations")
    batch: int = option(2, "clips (frames t-1, t, t+1) per process and step; the total batch is batch x processes", "clips")
    optimizer: Literal["sgd", "adamw"] = option("sgd", "sgd: SGD with momentum, the Mask R-CNN recipe (for --init coco/imagenet); adamw: AdamW, which trains small models from scratch (--init none) in far fewer steps")
    lr: float = option(0.01, "base learning rate after warm-up (SGD fine-tuning: 0.02 for 16 images, scale linearly with the total batch; AdamW: about 1e-3)", "1/step")
    momentum: float = option(0.9, "SGD momentum (AdamW: beta1)", "fraction")
    weight_decay: float = option(1e-4, "weight decay (SGD: L2; AdamW: decoupled)", "1/step")
    warmup_iterations: int = option(500, "linear warm-up from warmup_factor x lr to lr over this many steps", "iterations")
    warmup_factor: float = option(0.001, "learning-rate factor at step 0 of the warm-up", "fraction")
    decay_at: tuple[float, ...] = option((0.67, 0.89), "fractions of iterations after which the learning rate is multiplied by gamma (step decay)", "fraction")
    gamma: float = option(0.1, "learning-rate factor applied at each decay_at point", "fraction")
    clip_grad_norm: float = option(10.0, "largest total gradient L2 norm (0 = no clipping)", "norm")
    mixed_precision: bool = option(True, "float16 autocast with loss scaling on CUDA (CPU always trains in float32)")
    checkpoint_every: int = option(1000, "write RUN/checkpoints/last.pt every this many steps (and always at the end)", "iterations")
    val_every: int = option(2000, "with --val: validate every this many steps (and at the end)", "iterations")
    seed: int = option(0, "seed of the sample order, the augmentation and the network's random initialisation")
    workers: int = option(2, "data-loading processes per training process (0 = load in the main process)", "processes")
    flip_prob: float = option(0.5, "probability that a clip is mirrored left-right (all three frames alike)", "probability")
    scale_min: float = option(0.8, "smallest scale-jitter factor of a clip", "factor")
    scale_max: float = option(1.2, "largest scale-jitter factor of a clip", "factor")
    brightness: float = option(0.2, "colour jitter: largest relative brightness change", "fraction")
    contrast: float = option(0.2, "colour jitter: largest relative contrast change", "fraction")
    saturation: float = option(0.2, "colour jitter: largest relative saturation change", "fraction")
    hue: float = option(0.0, "colour jitter: largest hue shift (0 = off; the class of an object does not depend on its colour, but its identity does)", "turns")
    emb_classifier: Literal["linear", "cosine"] = option("cosine", "loss_emb's identity classifier on the unit embeddings: cosine: emb_scale x the cosine with one learned unit prototype per identity (NormFace/AdaCos); linear: a linear layer with bias, as DIOR sec. 3.3 (its logits stay small, so it learns slowly; runs from before this setting used it). Chosen by measurement (README, dior train)", None, "DIOR sec. 3.3")
    emb_scale: float | None = option(None, "emb_classifier cosine: the logit scale s (at the start, when learned); null: sqrt(2) ln(C - 1) for the C identities of the data (AdaCos's fixed scale)", "factor")
    emb_scale_learned: bool = option(False, "emb_classifier cosine: true: train s with the network, starting at emb_scale; false: keep it fixed (measured better, README dior train)")

    def __post_init__(self) -> None:
        _require(self.iterations >= 1 and self.batch >= 1, "train.iterations and train.batch must be at least 1")
        _require(self.lr > 0 and 0 <= self.momentum < 1 and self.weight_decay >= 0, "train.lr must be positive, train.momentum in [0, 1), train.weight_decay >= 0")
        _require(self.warmup_iterations >= 0 and 0 < self.warmup_factor <= 1, "train.warmup_iterations must be >= 0 and train.warmup_factor in (0, 1]")
        object.__setattr__(self, "decay_at", tuple(float(x) for x in self.decay_at))
        _require(all(0 < x < 1 for x in self.decay_at) and list(self.decay_at) == sorted(self.decay_at), "train.decay_at must be increasing fractions in (0, 1)")
        _require(0 < self.gamma <= 1 and self.clip_grad_norm >= 0, "train.gamma must be in (0, 1] and train.clip_grad_norm >= 0")
        _require(self.checkpoint_every >= 1 and self.val_every >= 1 and self.workers >= 0, "train.checkpoint_every and train.val_every must be >= 1, train.workers >= 0")
        _require(0 <= self.flip_prob <= 1 and 0 < self.scale_min <= self.scale_max, "train.flip_prob must be in [0, 1] and 0 < train.scale_min <= train.scale_max")
        _require(min(self.brightness, self.contrast, self.saturation) >= 0, "train.brightness, contrast and saturation must not be negative")
        _require(0 <= self.hue <= 0.5 and self.seed >= 0, "train.hue must be in [0, 0.5] and train.seed >= 0")
        _require(self.emb_scale is None or 0 < self.emb_scale < 1000, "train.emb_scale must be in (0, 1000) (or null: sqrt(2) ln(C - 1))")

    def learning_rate(self, iteration: int) -> float:
        """The learning rate of step ``iteration`` (0-based): linear warm-up, then step decay."""
        factor = 1.0
        if iteration < self.warmup_iterations:
            alpha = iteration / self.warmup_iterations
            factor = self.warmup_factor * (1 - alpha) + alpha
        decays = sum(iteration >= fraction * self.iterations for fraction in self.decay_at)
        return self.lr * factor * self.gamma**decays


def seconds_to_frames(seconds: float, fps: float) -> int:
    """A duration given in seconds, in frames at ``fps``: rounded, and at least one frame."""
    return max(1, int(round(seconds * fps)))


STAGES: dict[str, type] = {"track": TrackConfig, "reid": ReidConfig, "adapt": AdaptConfig, "train": TrainConfig}


def load_config(stage: str, config_file: str | os.PathLike | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """Build the config of ``stage`` from defaults, a YAML file, then ``--set`` overrides.

    Raises ``ConfigError`` naming the file (or the ``--set`` text) and the key.
    """
    cls = STAGES[stage]
    values: dict[str, Any] = {}
    if config_file is not None:
        sections = read_config_file(config_file)
        values.update(sections.get(stage, {}))
    for text in overrides:
        key, value = parse_override(text, stage)
        _check_key(cls, stage, key, f"--set {text}")
        values[key] = value
    return build(cls, stage, values, where=str(config_file) if config_file else "--set")


def read_config_file(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Read a YAML config file into ``{stage: {key: value}}``, checking every key."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFound("config file does not exist", path=path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise ConfigError(f"is not valid YAML ({type(exc).__name__})", path=path, line=None if line is None else line + 1) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError("must be a mapping of stage names to settings", path=path)
    for stage, section in doc.items():
        if stage not in STAGES and stage != MODEL_SECTION:
            raise ConfigError(f"unknown section {stage!r}; valid sections: {', '.join([*STAGES, MODEL_SECTION])}", path=path)
        if not isinstance(section, dict):
            raise ConfigError(f"section {stage!r} must be a mapping of keys to values", path=path)
        if stage == MODEL_SECTION:
            continue  # the network's settings: checked by ModelConfig when dior train builds the model
        for key in section:
            _check_key(STAGES[stage], stage, key, str(path))
        build(STAGES[stage], stage, section, where=str(path))
    return doc


MODEL_SECTION = "model"
"""Config-file section (and ``--set model.key=value`` prefix) of ``dior train``'s network settings
(:class:`dior_cli.model.config.ModelConfig`; ``dior config`` lists them)."""


def model_settings(config_file: str | os.PathLike | None, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The raw ``model:`` settings of a config file with ``--set model.key=value`` applied on top.

    Values are YAML-parsed but not checked here: ``ModelConfig.from_dict`` checks names and types.
    """
    values: dict[str, Any] = {}
    if config_file is not None:
        values.update(read_config_file(config_file).get(MODEL_SECTION, {}))
    for text in overrides:
        key, value = parse_override(text, MODEL_SECTION)
        values[key] = value
    return values


def split_overrides(overrides: list[str] | tuple[str, ...], stages: tuple[str, ...]) -> dict[str, list[str]]:
    """Group ``--set`` texts by the stage they configure, among ``stages``.

    ``stage.key=value`` names its stage; a bare ``key=value`` goes to the one stage of
    ``stages`` that has ``key``, so ``dior config --set n1_seconds=0.3`` and
    ``dior track --set n1_seconds=0.3`` mean the same. Raises ``ConfigError`` for a text
    without ``=``, a stage not in ``stages``, or a bare key that no stage (or several) has.
    """
    groups: dict[str, list[str]] = {stage: [] for stage in stages}
    for text in overrides:
        if "=" not in text:
            raise ConfigError(f"--set {text!r}: expected key=value")
        key = text.split("=", 1)[0].strip()
        if "." in key:
            stage = key.split(".", 1)[0]
            if stage not in groups:
                raise ConfigError(f"--set {text!r}: this command configures {', '.join(stages)}, not {stage!r}")
        else:
            owners = [s for s in stages if key in {f.name for f in dataclasses.fields(STAGES[s])}]
            if len(owners) != 1:
                valid = ", ".join(f"{s}.{f.name}" for s in stages for f in dataclasses.fields(STAGES[s]))
                problem = f"is a key of {' and '.join(owners)}: name one, e.g. {owners[0]}.{key}" if owners else f"unknown key {' or '.join(f'{s}.{key}' for s in stages)}; valid keys: {valid}"
                raise ConfigError(f"--set {text!r}: {problem}")
            stage = owners[0]
        groups[stage].append(text)
    return groups


def parse_override(text: str, stage: str) -> tuple[str, Any]:
    """Split ``key=value`` (or ``stage.key=value``) and parse the value as a YAML scalar."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if "." in key:
        prefix, key = key.split(".", 1)
        if prefix != stage:
            raise ConfigError(f"--set {text!r}: this command configures {stage!r}, not {prefix!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def build(cls: type, stage: str, values: dict[str, Any], where: str) -> Any:
    """Instantiate ``cls`` from ``values`` after checking each value's type."""
    hints = typing.get_type_hints(cls)
    checked = {}
    for key, value in values.items():
        _check_key(cls, stage, key, where)
        checked[key] = _coerce(value, hints[key], f"{where}: {stage}.{key}")
    try:
        return cls(**checked)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None


def defaults_yaml() -> str:
    """Every stage's keys with their defaults, each preceded by a comment with meaning and unit."""
    lines = ["# dior configuration: every key with its default.", "# Use with --config FILE; override one key with --set key=value.",
             "# dior train also reads a model: section, the network's settings (ModelConfig in dior_cli/model/config.py,",
             "# each key documented there; examples/train_tiny_cpu.yaml shows a small one). They are stored in every checkpoint.", ""]
    for stage, cls in STAGES.items():
        lines.append(f"# {cls.__doc__.strip().replace('``', '')}")
        lines.append(f"{stage}:")
        for f in dataclasses.fields(cls):
            meta = f.metadata
            unit = f" [{meta['unit']}]" if meta.get("unit") else ""
            source = f"; from {meta['source']}" if meta.get("source") else ""
            lines.append(f"  # {meta.get('help', '')}{unit}{source}")
            lines.append(f"  {f.name}: {yaml.safe_dump(f.default, default_flow_style=True).strip().removesuffix('...').strip()}")
        lines.append("")
    return "\n".join(lines)


def _check_key(cls: type, stage: str, key: str, where: str) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    if key not in names:
        raise ConfigError(f"{where}: unknown key {stage}.{key}; valid keys: {', '.join(names)}")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"{where} must be one of {', '.join(map(str, typing.get_args(hint)))}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)) or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
            raise ConfigError(f"{where} must be a list of numbers, got {value!r}")
        return tuple(float(v) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    return value


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
