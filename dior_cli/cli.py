"""The ``dior`` command line: thin commands that validate arguments and call a stage.

Each command checks its arguments, builds its stage's options (and config), calls the stage's
``run`` and prints what it returned. The printing lives in :mod:`dior_cli.cli_summaries`, the
options ``infer`` and ``run`` share in :mod:`dior_cli.cli_options`, the error handling in
:mod:`dior_cli.cli_usage`; files a stage leaves behind are written by the stage's own modules.

Each command imports its stage inside its body, so ``dior --help`` starts instantly and
never imports torch. A :class:`~dior_cli.errors.DiorError` becomes a red message on stderr
and exit code 1; only bugs show a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from dior_cli import __version__
from dior_cli import cli_options as shared
from dior_cli.cli_usage import DiorGroup, user_errors_exit_1
from dior_cli.errors import DiorError

app = typer.Typer(
    name="dior",
    cls=DiorGroup,  # a usage mistake: one line naming the option, exit code 1
    rich_markup_mode=None,  # help is plain text: [plot], [0, 1] and the like print as written (rich markup ate them)
    help="Multi-object tracking and segmentation: detect, segment, embed, track, refine and evaluate.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"dior {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_version_callback, is_eager=True),
) -> None:
    """Multi-object tracking and segmentation (MOTS) with DIOR and ReMOTS."""


@app.command()
@user_errors_exit_1
def inspect(
    path: Path = typer.Argument(..., help="Anything a command reads: a dataset root or sequence folder (MOTS20/MOT17, KITTI-MOTS, MOTChallenge boxes), an image folder, a video or folder of videos, a folder of MOTS txt (instances_txt/, PointTrack's car/), of detections or of tracks, or one .txt, .json or .npy file."),
    frame_base: int = typer.Option(0, "--frame-base", help="For MOTS txt (a file or a folder of them): the number of its first frame (0 KITTI-MOTS, 1 MOTS20)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout instead of a table."),
) -> None:
    """Validate any file or folder dior reads, summarise it (sequences, frames, objects) and say which commands read it."""
    from dior_cli.inspection import inspect_path, render_summary

    summary = inspect_path(path, frame_base=frame_base)
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    else:
        render_summary(summary)


@app.command()
@user_errors_exit_1
def evaluate(
    gt: Path = typer.Option(..., "--gt", help="Ground truth: masks (MOTS20 or KITTI-MOTS dataset root, TrackEval's MOTS-<split>/ or label_02/, a folder of <seq>.txt) or boxes (a MOTChallenge dataset, split or sequence folder with <seq>/gt/gt.txt, or TrackEval's MOT17-<split>/)."),
    pred: Path = typer.Option(..., "--pred", help="Predictions: a folder of <seq>.txt (MOTS txt; MOT box files frame,id,x,y,w,h,conf,... for box ground truth) or <seq>/ instance-PNG folders."),
    benchmark: str = typer.Option("auto", "--benchmark", help="auto (from the layout and folder names; the decision is printed), kitti-mots (masks, car+pedestrian, frames from 0), mots20 (masks, pedestrian, frames from 1), mot15 (boxes, no preprocessing), mot16, mot17 or mot20 (boxes, pedestrian, distractors removed; frames from 1)."),
    seqmap: Optional[Path] = typer.Option(None, "--seqmap", help="Sequences to evaluate: '<seq> empty <first> <last>' lines or a MOTChallenge list with a 'name' header. Default: the layout's own seqmap, else every sequence with ground truth."),
    split: Optional[str] = typer.Option(None, "--split", help="Split to use where the layout has several (train, test, val...)."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Comma-separated classes to evaluate (car,pedestrian). Default: the benchmark's."),
    workers: int = typer.Option(0, "--workers", help="Processes evaluating sequences in parallel; 0 = one per CPU core."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write metrics.json. Default: metrics.json beside the prediction folder."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Also write one CSV row per sequence and class (plus combined rows)."),
    resolve_overlaps: bool = typer.Option(False, "--resolve-overlaps", help="Make overlapping prediction masks disjoint (the earlier line keeps shared pixels) instead of refusing the file."),
    allow_missing: bool = typer.Option(False, "--allow-missing", help="Score sequences without a prediction file as empty instead of refusing."),
    boxes: bool = typer.Option(False, "--boxes", help="PRED holds MOTS masks (dior track / dior reid output): score each pedestrian mask's bounding box (pixels, x+w exclusive) against box ground truth (MOT15/16/17/20)."),
    json_output: bool = typer.Option(False, "--json", help="Print the metrics document (schema dior.metrics/v1) on stdout."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also write PNG plots to this folder: HOTA, DetA, AssA over the 19 thresholds and a per-sequence bar chart (needs matplotlib: pip install 'dior-cli[plot]')."),
) -> None:
    """Score MOTS tracks (masks) or MOTChallenge box tracks against ground truth with exactly TrackEval's numbers (HOTA, CLEAR/sMOTSA or MOTA, IDF1)."""
    import time

    from dior_cli import cli_summaries
    from dior_cli.evaluate import report, report_files

    if plot is not None:
        from dior_cli.evaluate.plots import require_matplotlib

        require_matplotlib()  # before the work, not after it
    from dior_cli.evaluate.stage import EvaluateOptions, run

    start = time.perf_counter()
    chosen = None if classes is None else tuple(c.strip() for c in classes.split(",") if c.strip())
    options = EvaluateOptions(
        gt=gt, pred=pred, benchmark=benchmark, seqmap=seqmap, split=split, classes=chosen, workers=workers,
        resolve_overlaps=resolve_overlaps, allow_missing=allow_missing, boxes=boxes,
    )
    doc = run(options)
    metrics_path = out if out is not None else report_files.default_metrics_path(pred)
    report_files.write_report_files(doc, metrics_path, csv_path)
    if json_output:
        typer.echo(report.to_json(doc), nl=False)
    else:
        report.print_table(doc)
    report.print_summary(doc, time.perf_counter() - start)
    cli_summaries.print_evaluate_files(metrics_path, csv_path)
    if plot is not None:
        from dior_cli.evaluate.plots import write_plots

        cli_summaries.print_plots(write_plots(doc, plot), plot)


@app.command()
@user_errors_exit_1
def render(
    tracks: Path = typer.Argument(..., help="Tracks: a <seq>.txt (MOTS txt) or a folder of them, with the <seq>.json link files of dior track (frame base); without them the frames' layout gives the frame base."),
    frames: Path = typer.Option(..., "--frames", help="The frames: a video, an image folder, or a MOTS20 / KITTI-MOTS root (the sequence is matched by name)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Video to write (mp4v .mp4; MJPG .avi when this OpenCV lacks mp4v). Default: render/<seq>.mp4 beside the TRACKS folder."),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="Write PNG frames <frame>.png (0-based, 6 digits) to this folder instead of a video."),
    gt: Optional[Path] = typer.Option(None, "--gt", help="Ground truth (any layout dior evaluate reads): draw the error view with evaluate's matching (CLEAR, IoU >= 0.5): TP in track colour, FP red, misses yellow, ID switches orange, a counter strip below."),
    seq: Optional[str] = typer.Option(None, "--seq", help="Sequence to draw when TRACKS holds several (default: the only one)."),
    trail: int = typer.Option(0, "--trail", help="Draw each track's centres over its last N frames (0 = no trails)."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frames per second of the video. Default: the frames' own (video header, seqinfo.ini, KITTI 10), else the tracks', else 10."),
    alpha: float = typer.Option(0.5, "--alpha", help="Opacity of the mask fills, 0-1."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Draw tracks on their frames (stable colour per id, id and class labels, trails), or with --gt the evaluation's errors."""
    import time

    from dior_cli import cli_summaries
    from dior_cli.render.stage import RenderOptions, run

    start = time.perf_counter()
    summary = run(RenderOptions(tracks=tracks, frames=frames, out=out, out_dir=out_dir, gt=gt, seq=seq, trail=trail, fps=fps, alpha=alpha))
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    cli_summaries.print_render(summary, time.perf_counter() - start)


@app.command()
@user_errors_exit_1
def infer(
    source: Path = typer.Argument(..., help="A video file, a folder of frames, or a MOTS20 / KITTI-MOTS / MOTChallenge dataset root (every sequence)."),
    out: Path = typer.Option(Path("dets"), "--out", help="Output folder for <seq>.json (detections) and <seq>.npy (embeddings)."),
    weights: Optional[str] = shared.WEIGHTS_OPTION,
    detections: list[Path] = typer.Option([], "--detections", help="Embed these detections instead of detecting (repeatable: several sets are fused by IoM-NMS, then made pixel-disjoint, higher score wins). A folder with <seq>.txt (MOTS txt, or a MOTChallenge box file frame,id,x,y,w,h,score,...), <seq>/det/det.txt, <seq>/ (KITTI-MOTS instance PNGs) or <seq>.json (dior detections) per sequence of SOURCE; for a one-sequence source, that file or PNG folder itself. Boxes get masks from the frames (box -> mask). Class-10 ignore rows are skipped and counted."),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="Embedding of given detections: osnet (OSNet x0.25 person re-ID on the box crop; the default) or dior (the DIOR embedding head on the given box with the given mask as spatial attention; needs --weights)."),
    reid_weights: Optional[str] = shared.REID_WEIGHTS_OPTION,
    appearance: str = typer.Option("auto", "--appearance", help="DIOR network only (--weights coco or .pt): where embeddings come from. auto: the network's head if it was trained (dior train), else OSNet on each box; network: always the head; osnet: always OSNet."),
    input_size: int = shared.INPUT_SIZE_OPTION,
    vehicles: str = shared.VEHICLES_OPTION,
    mask_method: list[str] = shared.MASK_METHOD_OPTION,
    frame_base: Optional[int] = typer.Option(None, "--frame-base", help="Number of the first frame in given MOTS txt files and PNG names. Default: the source's (1 for MOTS20, 0 for KITTI-MOTS, an image folder or a video); MOTChallenge box files: 1. dior JSON is always 0-based."),
    fusion_iom: Optional[float] = typer.Option(None, "--fusion-iom", help="Given detections: suppress a detection whose mask IoM (intersection over the smaller area) with a higher-scoring one of its class exceeds this (0-1; 1 turns NMS off). Default 0.5."),
    fps: Optional[float] = shared.FPS_OPTION,
    device: str = shared.DEVICE_OPTION,
    score_thresh: Optional[float] = shared.SCORE_THRESH_OPTION,
    max_dets: Optional[int] = shared.MAX_DETS_OPTION,
    batch: Optional[int] = shared.BATCH_OPTION,
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo sequences whose outputs exist (default: skip them)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Detect, segment and embed every frame: YOLOX-nano + box masks + OSNet by default, the DIOR network with --weights, or embed given detections (--detections)."""
    import time

    from dior_cli import cli_summaries
    from dior_cli.infer.options import InferOptions
    from dior_cli.infer.stage import run

    start = time.perf_counter()
    fields = _infer_fields(weights=weights, reid_weights=reid_weights, input_size=input_size, vehicles=vehicles, mask_method=mask_method,
                           fps=fps, device=device, score_thresh=score_thresh, max_dets=max_dets, batch=batch)
    summary = run(InferOptions(source=source, out=out, overwrite=overwrite, detections=tuple(detections), encoder=encoder,
                               frame_base=frame_base, fusion_iom=fusion_iom, appearance=appearance, **fields))
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    cli_summaries.print_infer(summary, time.perf_counter() - start)


def _infer_fields(*, weights, reid_weights, input_size, vehicles, mask_method, fps, device, score_thresh, max_dets, batch) -> dict[str, Any]:
    """``InferOptions`` fields from the options ``infer`` and ``run`` share."""
    from dior_cli.infer.detector import DEFAULT_BATCH, DetectorSettings, parse_mask_methods, parse_vehicles

    settings = DetectorSettings(input_size=input_size, vehicles=parse_vehicles(vehicles), mask_methods=parse_mask_methods(mask_method),
                                batch=batch or DEFAULT_BATCH)
    return {"weights": weights, "reid_weights": reid_weights, "fps": fps, "device": device, "score_thresh": score_thresh,
            "max_dets": max_dets, "batch": batch or 1, "detector": settings}


@app.command()
@user_errors_exit_1
def track(
    dets: Path = typer.Argument(..., help="Folder of <seq>.json detections (+ <seq>.npy embeddings), as written by dior infer; or of <seq>.txt MOTS txt masks from another tracker or segmenter (ids dropped, optional 7th column = score, else 1; masks only, needs --fps)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder for <seq>.txt (MOTS txt) and <seq>.json (link files). Default: tracks/ beside DETS (MOTS txt input: tracks/<DETS name>/)."),
    offline_reid: bool = typer.Option(False, "--offline-reid", help="After the online pass, join tracklets across gaps up to reid.n2_seconds (default 1 s) whose appearance cosine exceeds reid.theta_1 (DIOR long-term re-ID). Needs embeddings."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frames per second, overriding the detections files' (required when they say null, and for MOTS txt, which has none). Converts N1/N2 from seconds to frames."),
    frame_base: int = typer.Option(0, "--frame-base", help="MOTS txt input: the number of its first frame (0 KITTI-MOTS, 1 MOTS20); the tracks keep the same numbering. dior JSON records its own."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="YAML config file (sections track: and reid:)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting, e.g. n1_seconds=0.3 or reid.theta_1=0.8; a bare key goes to the section that has it (repeatable; see dior config)."),
    masks_only: bool = typer.Option(False, "--masks-only", help="Ignore embeddings: associate on mask IoM alone."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo sequences whose outputs already exist (default: skip them)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Track detections with the online DIOR tracker: Hungarian on mask IoM and appearance, short-term retrieval."""
    import time

    from dior_cli import cli_summaries, config
    from dior_cli.track.stage import TrackOptions, run

    start = time.perf_counter()
    sets = config.split_overrides(overrides, ("track", "reid"))
    options = TrackOptions(
        dets=dets, out=out, offline_reid=offline_reid, fps=fps, overwrite=overwrite, masks_only=masks_only, frame_base=frame_base,
        track=config.load_config("track", config_file, sets["track"]), reid=config.load_config("reid", config_file, sets["reid"]),
    )
    summary = run(options)
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    cli_summaries.print_track(summary, time.perf_counter() - start)


@app.command()
@user_errors_exit_1
def reid(
    tracks: Path = typer.Argument(..., help="Folder of <seq>.txt tracks with their <seq>.json link files, as written by dior track."),
    dets: Path = typer.Option(..., "--dets", help="Folder of the <seq>.json detections and <seq>.npy embeddings the tracks came from."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder for refined <seq>.txt + <seq>.json. Default: refined/ beside TRACKS."),
    method: Optional[str] = typer.Option(None, "--method", help="remots (default: hierarchical merging, thresholds read from the data) or dior (long-term re-ID: gap <= reid.n2_seconds, cosine > reid.theta_1)."),
    frames: Optional[Path] = typer.Option(None, "--frames", help="remots: the sequences' frames (video, image folder or dataset root): short-term tracklets are rebuilt from them (see --short-term)."),
    short_term: Optional[str] = typer.Option(None, "--short-term", help="remots with --frames: remots (default: ReMOTS's short-term tracker, adjacent frames linked by flow-warped mask IoU > 0 and cosine >= theta_short, input ids ignored) or cut (cut the input tracks where flow or appearance disagree). Same as --set short_term=..."),
    plot: bool = typer.Option(False, "--plot", help="remots: write <seq>.thresholds.png with the similarity histograms and the chosen thresholds."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="YAML config file (section reid:)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting, e.g. theta_t_seconds=1.0 or sigma_k=2.5 (repeatable; see dior config)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo sequences whose outputs already exist (default: skip them)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary (thresholds, histograms, counts) as JSON on stdout."),
) -> None:
    """Refine tracks offline: re-link tracklets by appearance (ReMOTS merging or DIOR long-term re-ID)."""
    import time

    from dior_cli import cli_summaries, config
    from dior_cli.reid.stage import ReidOptions, run

    start = time.perf_counter()
    sets = list(overrides) + ([f"method={method}"] if method is not None else []) + ([f"short_term={short_term}"] if short_term is not None else [])
    options = ReidOptions(tracks=tracks, dets=dets, out=out, frames=frames, plot=plot, overwrite=overwrite,
                          config=config.load_config("reid", config_file, sets))
    summary = run(options)
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    cli_summaries.print_reid(summary, time.perf_counter() - start)


@app.command()
@user_errors_exit_1
def adapt(
    dets: Path = typer.Argument(..., help="Folder of <seq>.json detections (dior infer); their <seq>.npy, if present, is only used to report the similarity before."),
    frames: Path = typer.Option(..., "--frames", help="The sequences' frames (video, image folder or dataset root)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder: <seq>.json (the detections, copied), <seq>.npy + .npy.json (new embeddings), <seq>.osnet.pt (the adapted encoder). Default: adapted/ beside DETS."),
    reid_weights: Optional[str] = typer.Option(None, "--reid-weights", help="The OSNet x0.25 ONNX file to start from. Default: found through DIOR_WEIGHTS, the user cache or ../shared/weights."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu or cuda."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="YAML config file (section adapt:)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting, e.g. intra_steps=100, inter_steps=100, learning_rate=5e-5 (repeatable; see dior config)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo sequences whose outputs already exist (default: skip them)."),
    train_data: Optional[Path] = typer.Option(None, "--train-data", help="A labelled dataset (frames plus ground-truth identities: MOTChallenge gt/gt.txt boxes, MOTS20 or KITTI-MOTS masks) whose triplets fill half of every step-1 batch (ReMOTS's 1:1 mix). Default: none, the video's own triplets only. Sizes: --set train_data_identities=50 per sequence, train_data_views=4 per identity."),
    plot: bool = typer.Option(False, "--plot", help="Also write ADAPTED/<seq>.separation.png: histograms of same-frame (different identity) and same-short-tracklet cosine similarities, with the input embeddings and the adapted ones (default: no plot)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary (losses, thresholds, timings) as JSON on stdout."),
) -> None:
    """Fine-tune OSNet on each video's own detections (ReMOTS: intra-frame, then short-term-tracklet triplets; no ground truth), then re-embed them."""
    import time

    from dior_cli import cli_summaries, config
    from dior_cli.adapt.stage import AdaptOptions, describe, run

    start = time.perf_counter()
    options = AdaptOptions(dets=dets, frames=frames, out=out, weights=reid_weights, device=device, overwrite=overwrite,
                           train_data=train_data, plot=plot, config=config.load_config("adapt", config_file, overrides))
    summary = run(options)
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    cli_summaries.print_adapt(summary, describe(summary), time.perf_counter() - start)


@app.command()
@user_errors_exit_1
def train(
    data: Path = typer.Argument(..., help="Training data: a MOTS20 or KITTI-MOTS dataset root (frames plus instances_txt/ or PNG instances/)."),
    out: Path = typer.Option(Path("runs/train"), "--out", help="Run folder: train_log.jsonl, checkpoints/last.pt, weights/final.pt, val/."),
    sequences: Optional[str] = typer.Option(None, "--sequences", help="Comma-separated sequences to train on (default: every sequence with ground truth, or the --seqmap's)."),
    seqmap: Optional[Path] = typer.Option(None, "--seqmap", help="Seqmap file selecting the training sequences (KITTI '<seq> empty <first> <last>' or MOTS 'name' list)."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="YAML config file (sections train: and model:; see dior config)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting, e.g. train.iterations=5000, lr=0.005 (train: is the default section) or model.backbone=resnet18 (repeatable)."),
    init: str = typer.Option("coco", "--init", help="Starting weights: coco (torchvision's COCO Mask R-CNN, the paper's start), imagenet (ResNet body only), none (random, from scratch) or a dior checkpoint PATH."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from checkpoints/last.pt exactly (same steps, samples and optimizer state); settings must match."),
    val: Optional[Path] = typer.Option(None, "--val", help="Validation data (a dataset root with frames and ground truth): mask AP plus dior infer/track/evaluate metrics every train.val_every steps."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu or cuda. Under torchrun each process takes cuda:LOCAL_RANK."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Train the DIOR network on MOTS data (three-frame clips; several GPUs or machines through torchrun)."""
    import time

    from dior_cli import cli_summaries, config
    from dior_cli.train import TrainOptions, run

    start = time.perf_counter()
    model_sets = [o for o in overrides if o.startswith(f"{config.MODEL_SECTION}.")]
    train_sets = [o for o in overrides if o not in model_sets]
    options = TrainOptions(
        data=data, out=out, train=config.load_config("train", config_file, train_sets), model=config.model_settings(config_file, model_sets),
        sequences=None if sequences is None else tuple(s.strip() for s in sequences.split(",") if s.strip()), seqmap=seqmap,
        init=init, resume=resume, val=val, device=device,
    )
    summary = run(options)
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    cli_summaries.print_train(summary, time.perf_counter() - start)


@app.command()
@user_errors_exit_1
def synth(
    out: Path = typer.Argument(..., help="Dataset root to write (KITTI-MOTS layout: images/<seq>/ and instances_txt/<seq>.txt)."),
    sequences: int = typer.Option(4, "--sequences", help="Number of sequences to generate (named synth0000, synth0001, ...)."),
    first: int = typer.Option(0, "--first", help="Index of the first sequence (e.g. 4 for a held-out synth0004)."),
    frames: int = typer.Option(40, "--frames", help="Frames per sequence."),
    size: str = typer.Option("128x160", "--size", help="Frame size HEIGHTxWIDTH, pixels."),
    objects: int = typer.Option(6, "--objects", help="Moving objects per sequence (cars and pedestrians alternate)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; sequence i uses seed*100003+i, so each sequence is reproducible alone."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace sequences that already exist (default: refuse)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Generate a synthetic MOTS dataset: textured cars and pedestrians that cross and hide each other, exact masks."""
    from dior_cli import cli_summaries
    from dior_cli.data.synthetic import SyntheticConfig, write_dataset

    try:
        height, width = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise DiorError(f"--size {size!r}: expected HEIGHTxWIDTH, e.g. 128x160") from None
    summary = write_dataset(out, sequences=sequences, first_index=first, seed=seed, overwrite=overwrite,
                            config=SyntheticConfig(height=height, width=width, frames=frames, objects=objects))
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    cli_summaries.print_synth(summary, sequences, frames, out)


@app.command("run")
@user_errors_exit_1
def run_command(
    source: Path = typer.Argument(..., help="A video file, a folder of frames, or a MOTS20 / KITTI-MOTS / MOTChallenge dataset root (every sequence)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder: dets/ (dior infer), tracks/ (dior track), render/<seq>.mp4 (dior render). Default: runs/<source name>."),
    weights: Optional[str] = shared.WEIGHTS_OPTION,
    reid_weights: Optional[str] = shared.REID_WEIGHTS_OPTION,
    input_size: int = shared.INPUT_SIZE_OPTION,
    vehicles: str = shared.VEHICLES_OPTION,
    mask_method: list[str] = shared.MASK_METHOD_OPTION,
    fps: Optional[float] = shared.FPS_OPTION,
    device: str = shared.DEVICE_OPTION,
    score_thresh: Optional[float] = shared.SCORE_THRESH_OPTION,
    max_dets: Optional[int] = shared.MAX_DETS_OPTION,
    batch: Optional[int] = shared.BATCH_OPTION,
    offline_reid: bool = typer.Option(True, "--offline-reid/--no-offline-reid", help="Join tracklets after the online pass (DIOR long-term re-ID: gap <= reid.n2_seconds, 1 s; cosine > reid.theta_1). Default on."),
    render: bool = typer.Option(True, "--render/--no-render", help="Write a video of the tracks per sequence (RUN/render/<seq>.mp4). Default on."),
    trail: int = typer.Option(10, "--trail", help="In the video, draw each track's centres over its last N frames (0 = none). Default 10."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="YAML config file (sections track: and reid:)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a tracker setting, e.g. n1_seconds=0.3 or reid.theta_1=0.8 (repeatable; see dior config)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo every stage (default: skip sequences whose outputs exist)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """The whole job: infer (detect, segment, embed), track with long-term re-ID, render a video; the same files as the separate commands."""
    import time

    from dior_cli import cli_summaries, config
    from dior_cli.run import RunOptions, run

    start = time.perf_counter()
    fields = _infer_fields(weights=weights, reid_weights=reid_weights, input_size=input_size, vehicles=vehicles, mask_method=mask_method,
                           fps=fps, device=device, score_thresh=score_thresh, max_dets=max_dets, batch=batch)
    reid_sets = [o.split(".", 1)[1] for o in overrides if o.startswith("reid.")]
    track_sets = [o for o in overrides if not o.startswith("reid.")]
    options = RunOptions(source=source, out=out or Path("runs") / source.stem, infer=fields, offline_reid=offline_reid, render=render,
                         trail=trail, overwrite=overwrite, track=config.load_config("track", config_file, track_sets),
                         reid=config.load_config("reid", config_file, reid_sets))
    summary = run(options)
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    cli_summaries.print_run(summary, time.perf_counter() - start)


@app.command("weights")
@user_errors_exit_1
def weights_command(
    json_output: bool = typer.Option(False, "--json", help="Print the list as JSON on stdout."),
) -> None:
    """List the networks dior runs: where each file was found (or every place searched), its sha256 check and licence."""
    from dior_cli.weights import search_places, status
    from dior_cli.weights_table import print_weights_table, weights_document

    rows, places = status(), search_places()
    if json_output:
        typer.echo(json.dumps(weights_document(rows, places), indent=1))
    print_weights_table(rows, places)


@app.command("config")
@user_errors_exit_1
def show_config(
    config_file: Optional[Path] = typer.Option(None, "--config", help="YAML config file to check; prints the values it gives."),
    overrides: list[str] = typer.Option([], "--set", help="Override one key, as stage.key=value or key=value (the stage that has the key; repeatable)."),
) -> None:
    """Print every stage's settings with meaning, unit and default (a commented YAML file).

    With --config/--set, check them and print the resulting values instead.
    """
    from dior_cli import config

    if config_file is None and not overrides:
        typer.echo(config.defaults_yaml())
        return
    from dior_cli.config_values import resolved_yaml

    typer.echo(resolved_yaml(config_file, overrides))  # bare keys go to the stage that has them, as in dior track


def main() -> None:
    """Console-script entry point."""
    app()
