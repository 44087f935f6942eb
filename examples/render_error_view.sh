#!/usr/bin/env bash
# The error view on real frames: MOT17-05, detections from its boxes with deliberate errors,
# `dior track`, scored and drawn by `dior render --gt` -> $RUN/error_view.png. (The README's
# picture, docs/error_view.png, comes from examples/synthetic_pipeline.sh.)
#
#   DATA=../shared/data bash examples/render_error_view.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
RUN=${RUN:-runs/error_view}
FRAME=${FRAME:-5}   # 0-based frame copied to $RUN/error_view.png: the dropped person comes back under a new id
rm -rf "$RUN"
python examples/make_error_view_inputs.py "$DATA/mot17_mini/train/MOT17-05-FRCNN" "$RUN" 6
dior track "$RUN/dets" --out "$RUN/tracks" --masks-only
dior evaluate --gt "$RUN/mot17" --pred "$RUN/tracks" --out "$RUN/metrics.json"
dior render "$RUN/tracks" --frames "$RUN/mot17/train/MOT17-05-FRCNN" --gt "$RUN/mot17" \
  --trail 10 --out-dir "$RUN/render"
dior render "$RUN/tracks" --frames "$RUN/mot17/train/MOT17-05-FRCNN" --trail 10 --out "$RUN/tracks.mp4"
cp "$RUN/render/$(printf '%06d' "$FRAME").png" "$RUN/error_view.png"
echo "wrote $RUN/error_view.png (frame $FRAME; MOT17 frames are CC BY-NC-SA: keep it out of the repository)"
