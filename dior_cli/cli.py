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
from dior_cli.cli_usage import DiorGroup
from dior_cli.console import console, setup_logging
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


INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, what shells report for Ctrl-C


def user_errors_exit_1(command: Callable) -> Callable:
    """Turn a ``DiorError`` raised by ``command`` into a message on stderr and exit code 1, and
    Ctrl-C into a one-line note and exit code 130."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setup_logging()
        try:
            return command(*args, **kwargs)
        except DiorError as exc:
            console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(code=exc.exit_code) from None
        except KeyboardInterrupt:
            console.print("interrupted: finished files are kept, none is half-written", highlight=False)
            raise typer.Exit(code=INTERRUPTED_EXIT_CODE) from None

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

    from dior_cli.evaluate import report

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


# Options that dior infer and dior run share (one definition each, so their help stays the same).
_WEIGHTS_OPTION = typer.Option(None, "--weights", help="What detects. Default (none given): YOLOX-nano (COCO; yolox_nano.onnx found through DIOR_WEIGHTS, the user cache or ../shared/weights, see dior weights), masks from its boxes, OSNet appearance. An .onnx path: that YOLOX-nano file. coco: the DIOR network with torchvision's COCO Mask R-CNN (downloaded by torchvision). A dior checkpoint .pt: the DIOR network you trained. With --encoder dior: the checkpoint whose head embeds.")
_REID_WEIGHTS_OPTION = typer.Option(None, "--reid-weights", help="The OSNet x0.25 ONNX file (osnet_x0_25_msmt17.onnx). Default: found through DIOR_WEIGHTS, the user cache or ../shared/weights.")
_INPUT_SIZE_OPTION = typer.Option(960, "--input-size", help="YOLOX: frames are letterboxed to this many pixels on their long side (the short side rounded up to a multiple of 32). Default 960 (measured: pedestrian recall 0.75 vs 0.64 at 640 and 0.74 at 1280, benchmarks/RESULTS.md). Larger finds smaller people; time grows with the pixel count.")
_VEHICLES_OPTION = typer.Option("", "--vehicles", help="YOLOX: COCO classes tracked as MOTS car besides car itself, comma-separated from bus,truck,motorcycle. Default none (KITTI-MOTS and MOTS20 annotate cars and people only). Other COCO classes are dropped.")
_MASK_METHOD_OPTION = typer.Option([], "--mask-method", help="Box -> mask method per class, CLASS=METHOD with CLASS car or pedestrian and METHOD box, ellipse, grabcut, selfie (people only) or bgsub (static cameras). Default: pedestrian=selfie (ellipse where it finds under 10 % of the box), car=ellipse (measured on DAVIS, benchmarks/RESULTS.md). Repeatable.")
_FPS_OPTION = typer.Option(None, "--fps", help="Frames per second recorded in the detections (track converts its durations with it). Default: the source's own (video header, seqinfo.ini, KITTI-MOTS 10); a folder of images has none, so give it there.")
_DEVICE_OPTION = typer.Option("auto", "--device", help="auto (CUDA when available), cpu or cuda. CUDA runs the networks in mixed precision.")
_SCORE_THRESH_OPTION = typer.Option(None, "--score-thresh", help="Keep detections scoring at least this (0-1). Default 0.25 for YOLOX (tracks still start only at track.new_track_score 0.5), 0.5 for the DIOR network; given detections are all kept unless this is set (then applied before fusion).")
_MAX_DETS_OPTION = typer.Option(None, "--max-dets", help="Keep at most this many detections per frame (the best-scoring). Default 100 for YOLOX and the DIOR network; no cap for given detections unless set (then applied after fusion).")
_BATCH_OPTION = typer.Option(None, "--batch", help="Frames per forward pass: default 4 for YOLOX, 1 for the DIOR network (use more on a GPU).")


@app.command()
@user_errors_exit_1
def infer(
    source: Path = typer.Argument(..., help="A video file, a folder of frames, or a MOTS20 / KITTI-MOTS / MOTChallenge dataset root (every sequence)."),
    out: Path = typer.Option(Path("dets"), "--out", help="Output folder for <seq>.json (detections) and <seq>.npy (embeddings)."),
    weights: Optional[str]= _WEIGHTS_OPTION,
    detections: list[Path] = typer.Option([], "--detections", help="Embed these detections instead of detecting (repeatable: several sets are fused by IoM-NMS, then made pixel-disjoint, higher score wins). A folder with <seq>.txt (MOTS txt, or a MOTChallenge box file frame,id,x,y,w,h,score,...), <seq>/det/det.txt, <seq>/ (KITTI-MOTS instance PNGs) or <seq>.json (dior detections) per sequence of SOURCE; for a one-sequence source, that file or PNG folder itself. Boxes get masks from the frames (box -> mask). Class-10 ignore rows are skipped and counted."),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="Embedding of given detections: osnet (OSNet x0.25 person re-ID on the box crop; the default) or dior (the DIOR embedding head on the given box with the given mask as spatial attention; needs --weights)."),
    reid_weights: Optional[str]= _REID_WEIGHTS_OPTION,
    appearance: str = typer.Option("auto", "--appearance", help="DIOR network only (--weights coco or .pt): where embeddings come from. auto: the network's head if it was trained (dior train), else OSNet on each box; network: always the head; osnet: always OSNet."),
    input_size: int= _INPUT_SIZE_OPTION,
    vehicles: str= _VEHICLES_OPTION,
    mask_method: list[str]= _MASK_METHOD_OPTION,
    frame_base: Optional[int] = typer.Option(None, "--frame-base", help="Number of the first frame in given MOTS txt files and PNG names. Default: the source's (1 for MOTS20, 0 for KITTI-MOTS, an image folder or a video); MOTChallenge box files: 1. dior JSON is always 0-based."),
    fusion_iom: Optional[float] = typer.Option(None, "--fusion-iom", help="Given detections: suppress a detection whose mask IoM (intersection over the smaller area) with a higher-scoring one of its class exceeds this (0-1; 1 turns NMS off). Default 0.5."),
    fps: Optional[float]= _FPS_OPTION,
    device: str= _DEVICE_OPTION,
    score_thresh: Optional[float]= _SCORE_THRESH_OPTION,
    max_dets: Optional[int]= _MAX_DETS_OPTION,
    batch: Optional[int]= _BATCH_OPTION,
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo sequences whose outputs exist (default: skip them)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Detect, segment and embed every frame: YOLOX-nano + box masks + OSNet by default, the DIOR network with --weights, or embed given detections (--detections)."""
    import time

    from dior_cli.infer import InferOptions, run

    start = time.perf_counter()
    fields = _infer_fields(weights=weights, reid_weights=reid_weights, input_size=input_size, vehicles=vehicles, mask_method=mask_method,
                           fps=fps, device=device, score_thresh=score_thresh, max_dets=max_dets, batch=batch)
    summary = run(InferOptions(source=source, out=out, overwrite=overwrite, detections=tuple(detections), encoder=encoder,
                               frame_base=frame_base, fusion_iom=fusion_iom, appearance=appearance, **fields))
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    print_infer_summary(summary, time.perf_counter() - start)


def _infer_fields(*, weights, reid_weights, input_size, vehicles, mask_method, fps, device, score_thresh, max_dets, batch) -> dict[str, Any]:
    """``InferOptions`` fields from the options ``infer`` and ``run`` share."""
    from dior_cli.infer_detector import DEFAULT_BATCH, DetectorSettings, parse_mask_methods, parse_vehicles

    settings = DetectorSettings(input_size=input_size, vehicles=parse_vehicles(vehicles), mask_methods=parse_mask_methods(mask_method),
                                batch=batch or DEFAULT_BATCH)
    return {"weights": weights, "reid_weights": reid_weights, "fps": fps, "device": device, "score_thresh": score_thresh,
            "max_dets": max_dets, "batch": batch or 1, "detector": settings}


def print_infer_summary(summary: dict, seconds: float) -> None:
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
            if "mask_sources" in f:
                line += f"; box masks by {_counts(f['mask_sources'])}, {f['box_masks_emptied']} left empty and dropped"
        if "mask_sources" in s:
            c = s["counts"]
            line += (f"; masks by {_counts(s['mask_sources'])} ({c['mask_fell_back']} fell back), {c['masks_emptied']} left empty and dropped; "
                     f"seconds: " + ", ".join(f"{k} {v}" for k, v in s["stage_seconds"].items()))
        console.print(line)
    if "encoder" in summary:
        by = f"{summary['encoder']} embeddings of given detections"
    elif summary.get("detector"):
        by = "YOLOX-nano, box masks and OSNet appearance"
    else:
        by = f"the DIOR network ({summary['appearance']} appearance)"
    device = f" on {summary['device']}" if summary["device"] else ""  # None when every sequence was skipped
    console.print(f"inferred {len(summary['sequences'])} sequence(s) with {by}{device} in {seconds:.1f} s -> {summary['out']}")


def _counts(by_name: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(by_name.items())) or "none"


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

    from dior_cli import config
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
    _print_track_summary(summary, time.perf_counter() - start)


def _print_track_summary(summary: dict, seconds: float) -> None:
    from dior_cli.rerun import skipped_message

    done = {k: v for k, v in summary["sequences"].items() if "skipped" not in v}
    skipped = {k: v for k, v in summary["sequences"].items() if "skipped" in v}
    for name, s in done.items():
        mode = "appearance + masks" if s["appearance"] else "masks only"
        extra = f", {s['reid_joins']} re-ID joins" if s["reid_joins"] else ""
        extra += f", {s['ignore_rows_skipped']} ignore rows skipped" if s.get("ignore_rows_skipped") else ""
        console.print(f"{name}: {s['tracks']} tracks from {s['tracked_detections']}/{s['detections']} detections ({mode}, {s['retrieved']} retrieved{extra})")
    changed = {k: v for k, v in skipped.items() if "changed" in v}
    for name, entry in changed.items():
        console.print(skipped_message(name, entry, "the same command and --overwrite (or another --out)"), soft_wrap=True)
    plain = [k for k in skipped if k not in changed]
    if plain:
        console.print(f"skipped {len(plain)} finished sequence(s) (use --overwrite): {', '.join(plain)}")
    console.print(f"tracked {len(done)} sequence(s) in {seconds:.1f} s -> {summary['out']}" + (f"; skipped {len(skipped)}" if skipped else ""))


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

    from dior_cli import config
    from dior_cli.reid.stage import ReidOptions, run

    start = time.perf_counter()
    sets = list(overrides) + ([f"method={method}"] if method is not None else []) + ([f"short_term={short_term}"] if short_term is not None else [])
    options = ReidOptions(tracks=tracks, dets=dets, out=out, frames=frames, plot=plot, overwrite=overwrite,
                          config=config.load_config("reid", config_file, sets))
    summary = run(options)
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    from dior_cli.rerun import skipped_message

    for name, s in summary["sequences"].items():
        if "skipped" in s:
            console.print(skipped_message(name, s, "the same command and --overwrite (or another --out)"), soft_wrap=True)
        elif s["method"] == "dior":
            console.print(f"{name}: {s['tracks_in']} tracklets in, {s['joins']} joins (theta_1 {s['theta_1']}, N2 {s['n2_frames']} frames), {s['tracks_out']} tracks out")
        else:
            console.print(
                f"{name}: {s['tracks_in']} tracks in -> {s['short_term_tracklets']} short-term tracklets "
                + (f"(short-term tracker, {s['short_term_links']} links)" if s.get("short_term") == "remots"
                   else f"({s['cuts_appearance']} appearance cuts, {s['cuts_flow']} flow cuts)")
                + f", {s['merges']} merges ({s.get('linkage', 'centroid')} linkage), {s['tracks_out']} tracks out; "
                f"theta_short {s['theta_short']:.3f}, theta_merge {s['theta_merge']:.3f} (from {s['different_identity']['n']} different / {s['same_identity']['n']} same pairs)"
            )
    skipped = sum("skipped" in s for s in summary["sequences"].values())
    console.print(f"refined {len(summary['sequences']) - skipped} sequence(s)" + (f", skipped {skipped}" if skipped else "")
                  + f" in {time.perf_counter() - start:.1f} s -> {summary['out']}")


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

    from dior_cli import config
    from dior_cli.adapt.stage import AdaptOptions, describe, run

    start = time.perf_counter()
    options = AdaptOptions(dets=dets, frames=frames, out=out, weights=reid_weights, device=device, overwrite=overwrite,
                           train_data=train_data, plot=plot, config=config.load_config("adapt", config_file, overrides))
    summary = run(options)
    if json_output:
        typer.echo(json.dumps(summary, indent=1))
    for line in describe(summary):
        console.print(line, soft_wrap=True)
    console.print(f"adapted {len(summary['sequences'])} sequence(s) in {time.perf_counter() - start:.1f} s on {summary['device']} -> {summary['out']}")


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


@app.command("run")
@user_errors_exit_1
def run_command(
    source: Path = typer.Argument(..., help="A video file, a folder of frames, or a MOTS20 / KITTI-MOTS / MOTChallenge dataset root (every sequence)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder: dets/ (dior infer), tracks/ (dior track), render/<seq>.mp4 (dior render). Default: runs/<source name>."),
    weights: Optional[str] = _WEIGHTS_OPTION,
    reid_weights: Optional[str] = _REID_WEIGHTS_OPTION,
    input_size: int = _INPUT_SIZE_OPTION,
    vehicles: str = _VEHICLES_OPTION,
    mask_method: list[str] = _MASK_METHOD_OPTION,
    fps: Optional[float] = _FPS_OPTION,
    device: str = _DEVICE_OPTION,
    score_thresh: Optional[float] = _SCORE_THRESH_OPTION,
    max_dets: Optional[int] = _MAX_DETS_OPTION,
    batch: Optional[int] = _BATCH_OPTION,
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

    from dior_cli import config
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
    for name, s in summary["sequences"].items():
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in (s["infer_stage_seconds"] or {}).items())
        skipped = f" (skipped, already done: {', '.join(s['skipped'])})" if s["skipped"] else ""
        console.print(f"{name}: {s['tracks']} tracks, {s['detections']} detections in {s['frames']} frames "
                      f"({s['detections_per_frame']} per frame){skipped}" + (f"; infer: {stages}" if stages else "")
                      + (f"; video: {s['video']}" if s["video"] else ""))
    total = time.perf_counter() - start
    per_stage = ", ".join(f"{k} {v:.1f} s" for k, v in summary["seconds"].items())
    console.print(f"ran {len(summary['sequences'])} sequence(s) in {total:.1f} s ({per_stage}) -> {summary['out']}")


@app.command("weights")
@user_errors_exit_1
def weights_command(
    json_output: bool = typer.Option(False, "--json", help="Print the list as JSON on stdout."),
) -> None:
    """List the networks dior runs: where each file was found (or every place searched), its sha256 check and licence."""
    from rich.table import Table

    from dior_cli.weights import search_places, status

    rows = status()
    if json_output:
        typer.echo(json.dumps({"schema": "dior.weights/v1", "networks": rows,
                               "searched": [{"place": p.label, "folder": str(p.folder)} for p in search_places()]}, indent=1))
    table = Table(title="networks dior runs")
    for column in ("network", "file", "found", "sha256", "licence"):
        table.add_column(column, overflow="fold")
    for row in rows:
        found = f"{row['path']} ({row['place']})" if row["path"] else "not found"
        check = "ok" if row["sha256_ok"] else ("differs" if row["sha256_ok"] is False else "-")
        table.add_row(row["name"], row["file"], found if not row["error"] else row["error"], check, row["licence"])
    console.print(table)
    missing = [row["file"] for row in rows if not row["path"]]
    places = "; ".join(f"{p.label}: {p.folder}" for p in search_places())
    console.print(f"searched, in order: --weights PATH; {places}")
    if missing:
        console.print(f"missing: {', '.join(missing)}: put them in one of these folders or point DIOR_WEIGHTS at the folder holding them")


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
    import dataclasses

    import yaml

    groups = config.split_overrides(overrides, tuple(config.STAGES))  # bare keys go to the stage that has them, as in dior track
    result = {stage: dataclasses.asdict(config.load_config(stage, config_file, groups[stage])) for stage in config.STAGES}
    typer.echo(yaml.safe_dump(result, sort_keys=False))


def main() -> None:
    """Console-script entry point."""
    app()
