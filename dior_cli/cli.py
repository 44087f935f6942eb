"""The ``dior`` command line: thin commands that validate arguments and call a stage.

Each command imports its stage inside its body, so ``dior --help`` starts instantly and
never imports torch. A :class:`~dior_cli.errors.DiorError` becomes a red message on stderr
and exit code 1; only bugs show a traceback.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer

from dior_cli import __version__
from dior_cli.console import console, setup_logging
from dior_cli.errors import DiorError

app = typer.Typer(
    name="dior",
    help="Multi-object tracking and segmentation: detect, segment, embed, track, refine and evaluate.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def user_errors_exit_1(command: Callable) -> Callable:
    """Turn a ``DiorError`` raised by ``command`` into a message on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setup_logging()
        try:
            return command(*args, **kwargs)
        except DiorError as exc:
            console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(code=exc.exit_code) from None

    return wrapper


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
    path: Path = typer.Argument(..., help="A dataset root, sequence folder, image folder, video, detections .json, embeddings .npy or MOTS .txt."),
    frame_base: int = typer.Option(0, "--frame-base", help="For a MOTS .txt: the number of its first frame (0 KITTI-MOTS, 1 MOTS20)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout instead of a table."),
) -> None:
    """Validate any file or folder dior reads and summarise it (sequences, frames, objects)."""
    from dior_cli.inspection import inspect_path, render_summary

    summary = inspect_path(path, frame_base=frame_base)
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    else:
        render_summary(summary)


@app.command()
@user_errors_exit_1
def evaluate(
    gt: Path = typer.Option(..., "--gt", help="Ground truth: MOTS20 or KITTI-MOTS dataset root, TrackEval's layouts (MOTS-<split>/ or label_02/), or a folder of <seq>.txt."),
    pred: Path = typer.Option(..., "--pred", help="Predictions: a folder of <seq>.txt (MOTS txt) or <seq>/ instance-PNG folders."),
    benchmark: str = typer.Option("auto", "--benchmark", help="auto (from the layout), kitti-mots (car+pedestrian, frames from 0) or mots20 (pedestrian, frames from 1)."),
    seqmap: Optional[Path] = typer.Option(None, "--seqmap", help="Sequences to evaluate: '<seq> empty <first> <last>' lines or a MOTChallenge list with a 'name' header. Default: the layout's own seqmap, else every sequence with ground truth."),
    split: Optional[str] = typer.Option(None, "--split", help="Split to use where the layout has several (train, test, val...)."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Comma-separated classes to evaluate (car,pedestrian). Default: the benchmark's."),
    workers: int = typer.Option(0, "--workers", help="Processes evaluating sequences in parallel; 0 = one per CPU core."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write metrics.json. Default: metrics.json beside the prediction folder."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Also write one CSV row per sequence and class (plus combined rows)."),
    resolve_overlaps: bool = typer.Option(False, "--resolve-overlaps", help="Make overlapping prediction masks disjoint (the earlier line keeps shared pixels) instead of refusing the file."),
    allow_missing: bool = typer.Option(False, "--allow-missing", help="Score sequences without a prediction file as empty instead of refusing."),
    json_output: bool = typer.Option(False, "--json", help="Print the metrics document (schema dior.metrics/v1) on stdout."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also write PNG plots to this folder: HOTA, DetA, AssA over the 19 thresholds and a per-sequence bar chart (needs matplotlib: pip install 'dior-cli[plot]')."),
) -> None:
    """Score MOTS tracks against ground truth with exactly TrackEval's numbers (HOTA, CLEAR/sMOTSA, IDF1)."""
    import time

    from dior_cli.evaluate import report

    if plot is not None:
        from dior_cli.evaluate.plots import require_matplotlib

        require_matplotlib()  # before the work, not after it
    from dior_cli.evaluate.stage import EvaluateOptions, run

    start = time.perf_counter()
    chosen = None if classes is None else tuple(c.strip() for c in classes.split(",") if c.strip())
    options = EvaluateOptions(
        gt=gt, pred=pred, benchmark=benchmark, seqmap=seqmap, split=split, classes=chosen, workers=workers,
        resolve_overlaps=resolve_overlaps, allow_missing=allow_missing,
    )
    doc = run(options)
    out = out if out is not None else pred.resolve().parent / "metrics.json"
    report.write_metrics_json(out, doc)
    if csv_path is not None:
        report.write_csv(csv_path, doc)
    if json_output:
        typer.echo(report.to_json(doc), nl=False)
    else:
        report.print_table(doc)
    report.print_summary(doc, time.perf_counter() - start)
    console.print(f"wrote {out}" + (f" and {csv_path}" if csv_path else ""))
    if plot is not None:
        from dior_cli.evaluate.plots import write_plots

        written = write_plots(doc, plot)
        console.print(f"wrote {len(written)} plot(s) to {plot}: {', '.join(p.name for p in written)}")


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

    from dior_cli.render.stage import RenderOptions, run

    start = time.perf_counter()
    summary = run(RenderOptions(tracks=tracks, frames=frames, out=out, out_dir=out_dir, gt=gt, seq=seq, trail=trail, fps=fps, alpha=alpha))
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    counts = summary.get("counts")
    extra = f"; TP {counts['tp']}, FP {counts['fp']}, misses {counts['miss']}, IDSW {counts['idsw']}" if counts else ""
    height, width = summary["size"] or (0, 0)
    console.print(f"{summary['sequence']}: rendered {summary['frames']} frames ({width}x{height}){extra} in {time.perf_counter() - start:.1f} s -> {summary['out']}")


@app.command()
@user_errors_exit_1
def infer(
    source: Path = typer.Argument(..., help="A video file, a folder of frames, or a MOTS20 / KITTI-MOTS dataset root (every sequence)."),
    out: Path = typer.Option(Path("dets"), "--out", help="Output folder for <seq>.json (detections) and <seq>.npy (embeddings)."),
    detections: list[Path] = typer.Option([], "--detections", help="Embed these detections instead of detecting (repeatable: several sets are fused by IoM-NMS, then made pixel-disjoint, higher score wins). A folder with <seq>.txt (MOTS txt; track ids ignored, optional 7th column = score, else 1), <seq>/ (KITTI-MOTS instance PNGs) or <seq>.json (dior detections) per sequence of SOURCE; for a one-sequence source, that file or PNG folder itself. Class-10 ignore rows are skipped and counted."),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="Embedding of given detections: osnet (OSNet x0.25 person re-ID on the box crop, shipped weights; the default with --detections) or dior (the DIOR embedding head on the given box with the given mask as spatial attention; needs --weights). Without --detections the DIOR network always detects and embeds."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Network path and --encoder dior: coco (torchvision's COCO Mask R-CNN mapped to car/pedestrian; appearance untrained) or a dior checkpoint .pt; default coco, but --encoder dior needs it given. --encoder osnet: an OSNet checkpoint from weights/convert_osnet.py (default: the shipped osnet_x0_25_msmt17.pt)."),
    frame_base: Optional[int] = typer.Option(None, "--frame-base", help="Number of the first frame in given MOTS txt files and PNG names. Default: the source's (1 for MOTS20, 0 for KITTI-MOTS, an image folder or a video). dior JSON is always 0-based."),
    fusion_iom: Optional[float] = typer.Option(None, "--fusion-iom", help="Given detections: suppress a detection whose mask IoM (intersection over the smaller area) with a higher-scoring one of its class exceeds this (0-1; 1 turns NMS off). Default 0.5."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu or cuda. CUDA runs the DIOR network in mixed precision."),
    score_thresh: Optional[float] = typer.Option(None, "--score-thresh", help="Keep detections scoring at least this (0-1). Default 0.5 for the network's detections; given detections are all kept unless this is set (then applied before fusion)."),
    max_dets: Optional[int] = typer.Option(None, "--max-dets", help="Keep at most this many detections per frame (the best-scoring). Default 100 for the network; no cap for given detections unless set (then applied after fusion)."),
    batch: int = typer.Option(1, "--batch", help="Frames encoded together by the DIOR network (use more on a GPU). Default 1."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo sequences whose outputs exist (default: skip them)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Detect, segment and embed every frame with the DIOR network (3-frame temporal attention), or embed given detections (--detections)."""
    import time

    from dior_cli.infer import InferOptions, run

    start = time.perf_counter()
    summary = run(InferOptions(source=source, out=out, weights=weights, device=device, score_thresh=score_thresh,
                               max_dets=max_dets, batch=batch, overwrite=overwrite, detections=tuple(detections),
                               encoder=encoder, frame_base=frame_base, fusion_iom=fusion_iom))
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    for name, s in summary["sequences"].items():
        if "skipped" in s:
            console.print(f"{name}: skipped (outputs exist; use --overwrite)")
            continue
        line = f"{name}: {s['detections']} detections in {s['frames']} frames ({s['frames_per_second']} frames/s)"
        if "fusion" in s:
            f = s["fusion"]
            line += (f"; given {'+'.join(str(n) for n in f['per_set'])}: {f['suppressed']} suppressed by IoM-NMS, "
                     f"{f['emptied']} emptied by disjointness, {f['empty_input']} empty, {f['below_score']} below --score-thresh, "
                     f"{f['over_max_dets']} over --max-dets, {f['ignore_skipped']} ignore rows skipped")
        console.print(line)
    by = f"{summary['encoder']} embeddings of given detections" if "encoder" in summary else "the DIOR network"
    device = f" on {summary['device']}" if summary["device"] else ""  # None when every sequence was skipped
    console.print(f"inferred {len(summary['sequences'])} sequence(s) with {by}{device} in {time.perf_counter() - start:.1f} s -> {summary['out']}")


@app.command()
@user_errors_exit_1
def track(
    dets: Path = typer.Argument(..., help="Folder of <seq>.json detections (+ <seq>.npy embeddings), as written by dior infer."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder for <seq>.txt (MOTS txt) and <seq>.json (link files). Default: tracks/ beside DETS."),
    offline_reid: bool = typer.Option(False, "--offline-reid", help="After the online pass, join tracklets across gaps up to reid.n2_seconds (default 1 s) whose appearance cosine exceeds reid.theta_1 (DIOR long-term re-ID). Needs embeddings."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frames per second, overriding the detections files' (required when they say null). Converts N1/N2 from seconds to frames."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="YAML config file (sections track: and reid:)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting, e.g. n1_seconds=0.3 or reid.theta_1=0.8 (repeatable; see dior config)."),
    masks_only: bool = typer.Option(False, "--masks-only", help="Ignore embeddings: associate on mask IoM alone."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo sequences whose outputs already exist (default: skip them)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Track detections with the online DIOR tracker: Hungarian on mask IoM and appearance, short-term retrieval."""
    import time

    from dior_cli import config
    from dior_cli.track.stage import TrackOptions, run

    start = time.perf_counter()
    reid_sets = [o.split(".", 1)[1] for o in overrides if o.startswith("reid.")]
    track_sets = [o for o in overrides if not o.startswith("reid.")]
    options = TrackOptions(
        dets=dets, out=out, offline_reid=offline_reid, fps=fps, overwrite=overwrite, masks_only=masks_only,
        track=config.load_config("track", config_file, track_sets), reid=config.load_config("reid", config_file, reid_sets),
    )
    summary = run(options)
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    _print_track_summary(summary, time.perf_counter() - start)


def _print_track_summary(summary: dict, seconds: float) -> None:
    done = {k: v for k, v in summary["sequences"].items() if "skipped" not in v}
    skipped = [k for k, v in summary["sequences"].items() if "skipped" in v]
    for name, s in done.items():
        mode = "appearance + masks" if s["appearance"] else "masks only"
        extra = f", {s['reid_joins']} re-ID joins" if s["reid_joins"] else ""
        console.print(f"{name}: {s['tracks']} tracks from {s['tracked_detections']}/{s['detections']} detections ({mode}, {s['retrieved']} retrieved{extra})")
    if skipped:
        console.print(f"skipped {len(skipped)} finished sequence(s) (use --overwrite): {', '.join(skipped)}")
    console.print(f"tracked {len(done)} sequence(s) in {seconds:.1f} s -> {summary['out']}")


@app.command()
@user_errors_exit_1
def reid(
    tracks: Path = typer.Argument(..., help="Folder of <seq>.txt tracks with their <seq>.json link files, as written by dior track."),
    dets: Path = typer.Option(..., "--dets", help="Folder of the <seq>.json detections and <seq>.npy embeddings the tracks came from."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder for refined <seq>.txt + <seq>.json. Default: refined/ beside TRACKS."),
    method: Optional[str] = typer.Option(None, "--method", help="remots (default: hierarchical merging, thresholds read from the data) or dior (long-term re-ID: gap <= reid.n2_seconds, cosine > reid.theta_1)."),
    frames: Optional[Path] = typer.Option(None, "--frames", help="remots: the sequences' frames (video, image folder or dataset root): tracks are first cut where optical flow and appearance disagree."),
    plot: bool = typer.Option(False, "--plot", help="remots: write <seq>.thresholds.png with the similarity histograms and the chosen thresholds."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="YAML config file (section reid:)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting, e.g. theta_t_seconds=1.0 or sigma_k=2.5 (repeatable; see dior config)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo sequences whose outputs already exist (default: skip them)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary (thresholds, histograms, counts) as JSON on stdout."),
) -> None:
    """Refine tracks offline: re-link tracklets by appearance (ReMOTS merging or DIOR long-term re-ID)."""
    import time

    from dior_cli import config
    from dior_cli.reid.stage import ReidOptions, run

    start = time.perf_counter()
    sets = list(overrides) + ([f"method={method}"] if method is not None else [])
    options = ReidOptions(tracks=tracks, dets=dets, out=out, frames=frames, plot=plot, overwrite=overwrite,
                          config=config.load_config("reid", config_file, sets))
    summary = run(options)
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    for name, s in summary["sequences"].items():
        if "skipped" in s:
            console.print(f"{name}: skipped (outputs exist; use --overwrite)")
        elif s["method"] == "dior":
            console.print(f"{name}: {s['tracks_in']} tracklets in, {s['joins']} joins (theta_1 {s['theta_1']}, N2 {s['n2_frames']} frames), {s['tracks_out']} tracks out")
        else:
            console.print(
                f"{name}: {s['tracks_in']} tracks in -> {s['short_term_tracklets']} short-term tracklets "
                f"({s['cuts_appearance']} appearance cuts, {s['cuts_flow']} flow cuts), {s['merges']} merges, {s['tracks_out']} tracks out; "
                f"theta_short {s['theta_short']:.3f}, theta_merge {s['theta_merge']:.3f} (from {s['different_identity']['n']} different / {s['same_identity']['n']} same pairs)"
            )
    console.print(f"refined {len(summary['sequences'])} sequence(s) in {time.perf_counter() - start:.1f} s -> {summary['out']}")


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

    from dior_cli import config
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
    losses = summary["last_losses"]
    loss_text = f"last loss {losses['loss']:.3f}" if losses else "no step taken"
    console.print(f"trained {summary['steps'] - summary['resumed_from']} step(s) (to step {summary['steps']}) on {summary['device']}"
                  f" x{summary['world_size']} in {time.perf_counter() - start:.1f} s; {loss_text}; weights -> {summary['weights']}")


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
    from dior_cli.data.synthetic import SyntheticConfig, write_dataset

    try:
        height, width = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise DiorError(f"--size {size!r}: expected HEIGHTxWIDTH, e.g. 128x160") from None
    summary = write_dataset(out, sequences=sequences, first_index=first, seed=seed, overwrite=overwrite,
                            config=SyntheticConfig(height=height, width=width, frames=frames, objects=objects))
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    rows = sum(s["object_rows"] for s in summary["sequences"].values())
    console.print(f"wrote {len(summary['sequences'])} sequence(s), {sequences * frames} frames, {rows} object masks -> {out}")


@app.command("config")
@user_errors_exit_1
def show_config(
    config_file: Optional[Path] = typer.Option(None, "--config", help="YAML config file to check; prints the values it gives."),
    overrides: list[str] = typer.Option([], "--set", help="Override one key, as stage.key=value (repeatable)."),
) -> None:
    """Print every stage's settings with meaning, unit and default (a commented YAML file).

    With --config/--set, check them and print the resulting values instead.
    """
    from dior_cli import config

    if config_file is None and not overrides:
        typer.echo(config.defaults_yaml())
        return
    import dataclasses

    import yaml

    result = {}
    for stage in config.STAGES:
        stage_overrides = [o for o in overrides if o.split("=", 1)[0].startswith(f"{stage}.")]
        result[stage] = dataclasses.asdict(config.load_config(stage, config_file, stage_overrides))
    unknown = [o for o in overrides if o.split("=", 1)[0].split(".", 1)[0] not in config.STAGES]
    if unknown:
        raise DiorError(f"--set {unknown[0]!r}: name the stage, e.g. track.n1_seconds=0.3 (stages: {', '.join(config.STAGES)})")
    typer.echo(yaml.safe_dump(result, sort_keys=False))


def main() -> None:
    """Console-script entry point."""
    app()
