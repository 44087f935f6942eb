"""Options that ``dior infer`` and ``dior run`` share: one definition each, so their help stays the same."""

from __future__ import annotations

import typer

WEIGHTS_OPTION = typer.Option(None, "--weights", help="What detects. Default (none given): YOLOX-nano (COCO; yolox_nano.onnx found through DIOR_WEIGHTS, the user cache or ../shared/weights, see dior weights), masks from its boxes, OSNet appearance. An .onnx path: that YOLOX-nano file. coco: the DIOR network with torchvision's COCO Mask R-CNN (downloaded by torchvision). A dior checkpoint .pt: the DIOR network you trained. With --encoder dior: the checkpoint whose head embeds.")
REID_WEIGHTS_OPTION = typer.Option(None, "--reid-weights", help="The OSNet x0.25 ONNX file (osnet_x0_25_msmt17.onnx). Default: found through DIOR_WEIGHTS, the user cache or ../shared/weights.")
INPUT_SIZE_OPTION = typer.Option(960, "--input-size", help="YOLOX: frames are letterboxed to this many pixels on their long side (the short side rounded up to a multiple of 32). Default 960 (measured: pedestrian recall 0.75 vs 0.64 at 640 and 0.74 at 1280, benchmarks/RESULTS.md). Larger finds smaller people; time grows with the pixel count.")
VEHICLES_OPTION = typer.Option("", "--vehicles", help="YOLOX: COCO classes tracked as MOTS car besides car itself, comma-separated from bus,truck,motorcycle. Default none (KITTI-MOTS and MOTS20 annotate cars and people only). Other COCO classes are dropped.")
MASK_METHOD_OPTION = typer.Option([], "--mask-method", help="Box -> mask method per class, CLASS=METHOD with CLASS car or pedestrian and METHOD box, ellipse, grabcut, selfie (people only) or bgsub (static cameras). Default: pedestrian=selfie (ellipse where it finds under 10 % of the box), car=ellipse (measured on DAVIS, benchmarks/RESULTS.md). Repeatable.")
FPS_OPTION = typer.Option(None, "--fps", help="Frames per second recorded in the detections (track converts its durations with it). Default: the source's own (video header, seqinfo.ini, KITTI-MOTS 10); a folder of images has none, so give it there.")
DEVICE_OPTION = typer.Option("auto", "--device", help="auto (CUDA when available), cpu or cuda. CUDA runs the networks in mixed precision.")
SCORE_THRESH_OPTION = typer.Option(None, "--score-thresh", help="Keep detections scoring at least this (0-1). Default 0.25 for YOLOX (tracks still start only at track.new_track_score 0.5), 0.5 for the DIOR network; given detections are all kept unless this is set (then applied before fusion).")
MAX_DETS_OPTION = typer.Option(None, "--max-dets", help="Keep at most this many detections per frame (the best-scoring). Default 100 for YOLOX and the DIOR network; no cap for given detections unless set (then applied after fusion).")
BATCH_OPTION = typer.Option(None, "--batch", help="Frames per forward pass: default 4 for YOLOX, 1 for the DIOR network (use more on a GPU).")
