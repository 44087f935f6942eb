"""What each ``dior`` command prints when it has finished: its stage's summary, in words.

One function per command, each taking the summary dict the stage's ``run`` returned (and the
command's wall time in seconds) and printing through :data:`dior_cli.console.console`. They
only format: no file is read or written here, and no stage is imported, so the commands stay
thin and ``dior --help`` stays cheap (this module imports nothing heavy).
"""

from __future__ import annotations

from typing import Any

from dior_cli.console import console

RERUN_HINT = "the same command and --overwrite (or another --out)"


def print_infer(summary: dict[str, Any], seconds: float) -> None:
    """``dior infer``: one line per sequence (detections, fusion and mask counts), then the total."""
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
    """``name n, name n`` in name order, or ``none``."""
    return ", ".join(f"{name} {n}" for name, n in sorted(by_name.items())) or "none"


def print_track(summary: dict[str, Any], seconds: float) -> None:
    """``dior track``: tracks per sequence, what was skipped and why, then the total."""
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
        console.print(skipped_message(name, entry, RERUN_HINT), soft_wrap=True)
    plain = [k for k in skipped if k not in changed]
    if plain:
        console.print(f"skipped {len(plain)} finished sequence(s) (use --overwrite): {', '.join(plain)}")
    console.print(f"tracked {len(done)} sequence(s) in {seconds:.1f} s -> {summary['out']}" + (f"; skipped {len(skipped)}" if skipped else ""))


def print_reid(summary: dict[str, Any], seconds: float) -> None:
    """``dior reid``: joins or merges per sequence (with the thresholds used), then the total."""
    from dior_cli.rerun import skipped_message

    for name, s in summary["sequences"].items():
        if "skipped" in s:
            console.print(skipped_message(name, s, RERUN_HINT), soft_wrap=True)
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
                  + f" in {seconds:.1f} s -> {summary['out']}")


def print_render(summary: dict[str, Any], seconds: float) -> None:
    """``dior render``: frames drawn, their size, the error counts with --gt, and the output."""
    counts = summary.get("counts")
    extra = f"; TP {counts['tp']}, FP {counts['fp']}, misses {counts['miss']}, IDSW {counts['idsw']}" if counts else ""
    height, width = summary["size"] or (0, 0)
    console.print(f"{summary['sequence']}: rendered {summary['frames']} frames ({width}x{height}){extra} in {seconds:.1f} s -> {summary['out']}")


def print_adapt(summary: dict[str, Any], lines: list[str], seconds: float) -> None:
    """``dior adapt``: the stage's own description lines, then the total."""
    for line in lines:
        console.print(line, soft_wrap=True)
    console.print(f"adapted {len(summary['sequences'])} sequence(s) in {seconds:.1f} s on {summary['device']} -> {summary['out']}")


def print_train(summary: dict[str, Any], seconds: float) -> None:
    """``dior train``: steps taken (from where), the devices, the last loss and the weights file."""
    losses = summary["last_losses"]
    loss_text = f"last loss {losses['loss']:.3f}" if losses else "no step taken"
    console.print(f"trained {summary['steps'] - summary['resumed_from']} step(s) (to step {summary['steps']}) on {summary['device']}"
                  f" x{summary['world_size']} in {seconds:.1f} s; {loss_text}; weights -> {summary['weights']}")


def print_synth(summary: dict[str, Any], sequences: int, frames: int, out: object) -> None:
    """``dior synth``: sequences, frames and object masks written."""
    rows = sum(s["object_rows"] for s in summary["sequences"].values())
    console.print(f"wrote {len(summary['sequences'])} sequence(s), {sequences * frames} frames, {rows} object masks -> {out}")


def print_run(summary: dict[str, Any], seconds: float) -> None:
    """``dior run``: per sequence tracks, detections, what was skipped and the video; then the stages' times."""
    for name, s in summary["sequences"].items():
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in (s["infer_stage_seconds"] or {}).items())
        skipped = f" (skipped, already done: {', '.join(s['skipped'])})" if s["skipped"] else ""
        console.print(f"{name}: {s['tracks']} tracks, {s['detections']} detections in {s['frames']} frames "
                      f"({s['detections_per_frame']} per frame){skipped}" + (f"; infer: {stages}" if stages else "")
                      + (f"; video: {s['video']}" if s["video"] else ""))
    per_stage = ", ".join(f"{k} {v:.1f} s" for k, v in summary["seconds"].items())
    console.print(f"ran {len(summary['sequences'])} sequence(s) in {seconds:.1f} s ({per_stage}) -> {summary['out']}")


def print_evaluate_files(metrics: object, csv_path: object | None) -> None:
    """``dior evaluate``: the files written."""
    console.print(f"wrote {metrics}" + (f" and {csv_path}" if csv_path else ""))


def print_plots(written: list, folder: object) -> None:
    """``dior evaluate --plot``: how many plots went where."""
    console.print(f"wrote {len(written)} plot(s) to {folder}: {', '.join(p.name for p in written)}")
