"""Which ``dior`` commands read a file or folder, for ``dior inspect``.

Each function takes what inspection found and returns one line per command, written as the
user would type it (``PATH`` being the inspected path), with what that command takes from it.
"""

from __future__ import annotations

from dior_cli.formats.layouts import SequenceInfo

_MASK_LAYOUTS = ("mots20", "kitti-mots")


def for_sequences(path: str, sequences: list[SequenceInfo], box_gt: set[str]) -> list[str]:
    """Commands that read a dataset layout; ``box_gt``: names of sequences whose ``gt_txt`` holds boxes."""
    with_frames = [s for s in sequences if s.frames_path is not None]
    mask_gt = [s for s in sequences if (s.gt_txt is not None and s.name not in box_gt) or s.gt_png is not None]
    boxes_gt = [s for s in sequences if s.gt_boxes is not None or s.name in box_gt]
    det_boxes = [s for s in sequences if s.det_boxes is not None]
    lines = []
    if with_frames:
        lines += [f"dior infer {path}: detect, segment and embed the frames",
                  f"dior render TRACKS --frames {path}: draw tracks on the frames",
                  f"dior reid TRACKS --dets DETS --frames {path}: optical-flow cuts from the frames"]
    if det_boxes:
        target = det_boxes[0].det_boxes if len(sequences) == 1 else path
        lines.append(f"dior infer {path} --detections {target}: the det.txt boxes, given masks from the frames")
    if mask_gt:
        lines += [f"dior evaluate --gt {path} --pred TRACKS: mask ground truth (sMOTSA, HOTA, IDF1)",
                  f"dior render TRACKS --frames FRAMES --gt {path}: the evaluation's errors"]
        if any(s.frames_path is not None and s.layout in _MASK_LAYOUTS for s in mask_gt):
            lines.append(f"dior train {path}: frames with their mask ground truth")
    if boxes_gt:
        lines.append(f"dior evaluate --gt {path} --pred TRACKS: box ground truth (MOTChallenge box metrics)")
    return lines


def for_mots_txt(path: str, *, folder: bool) -> list[str]:
    """Commands that read MOTS txt (a folder of ``<seq>.txt``, or one file of such a folder)."""
    target = path if folder else "FOLDER"
    return [f"dior track {target} --fps F [--frame-base N]: track the masks (ids dropped; masks only, no frames needed)",
            f"dior infer FRAMES --detections {path}: embed the masks from the frames (then dior track)",
            f"dior evaluate --gt {target} or --pred {target}: as ground truth or as predictions",
            f"dior render {path} --frames FRAMES: draw them on their frames"]


def for_detections(path: str, *, folder: bool) -> list[str]:
    """Commands that read dior detections (``<seq>.json`` + ``<seq>.npy``)."""
    target = path if folder else "FOLDER"
    return [f"dior track {target}: the online tracker",
            f"dior reid TRACKS --dets {target}: the embeddings behind the tracks",
            f"dior infer FRAMES --detections {path}: re-embed or fuse them with other sets"]


def for_tracks(path: str, *, folder: bool) -> list[str]:
    """Commands that read dior tracks (``<seq>.txt`` with ``<seq>.json`` link files)."""
    target = path if folder else "FOLDER"
    return [f"dior reid {target} --dets DETS: re-link the tracklets offline",
            f"dior render {path} --frames FRAMES: draw them",
            f"dior evaluate --gt GT --pred {target}: score them"]
