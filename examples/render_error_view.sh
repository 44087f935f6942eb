#!/usr/bin/env bash
# Rebuild docs/error_view.png: a real pipeline (MOT17-05 frames, detections from its boxes with
# deliberate errors, `dior track`), scored and drawn by `dior render --gt`.
#
#   DATA=../shared/data bash examples/render_error_view.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
RUN=${RUN:-runs/error_view}
FRAME=${FRAME:-5}   # 0-based frame copied to docs/: the dropped person comes back under a new id
rm -rf "$RUN"
python examples/make_error_view_inputs.py "$DATA/mot17_mini/train/MOT17-05-FRCNN" "$RUN" 6
dior track "$RUN/dets" --out "$RUN/tracks" --masks-only
dior evaluate --gt "$RUN/mot17" --pred "$RUN/tracks" --out "$RUN/metrics.json"
dior render "$RUN/tracks" --frames "$RUN/mot17/train/MOT17-05-FRCNN" --gt "$RUN/mot17" \
  --trail 10 --out-dir "$RUN/render"
dior render "$RUN/tracks" --frames "$RUN/mot17/train/MOT17-05-FRCNN" --trail 10 --out "$RUN/tracks.mp4"
mkdir -p docs
cp "$RUN/render/$(printf '%06d' "$FRAME").png" docs/error_view.png
chmod 644 docs/error_view.png
echo "wrote docs/error_view.png (frame $FRAME)"
