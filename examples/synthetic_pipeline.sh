#!/usr/bin/env bash
# The whole pipeline on synthetic data, on a CPU in a few minutes, no download needed:
# generate -> train from scratch -> infer -> track -> evaluate -> render the error view.
# Everything goes to $RUN, the error-view picture to $RUN/error_view.png; the tracked
# docs/error_view.png (the README's picture) is rewritten only when asked with UPDATE_DOCS=1
# (training from scratch differs with the CPU and thread count, and so does the picture).
#
#   bash examples/synthetic_pipeline.sh                  # RUN=runs/synthetic by default
#   UPDATE_DOCS=1 bash examples/synthetic_pipeline.sh    # also replace docs/error_view.png
set -euo pipefail
RUN=${RUN:-runs/synthetic}
FRAME=${FRAME:-26}   # 0-based frame of the held-out sequence kept as the picture
UPDATE_DOCS=${UPDATE_DOCS:-0}
rm -rf "$RUN"
# Four training sequences and a held-out one (synth0004) at 288x384 (three times the test suite's size:
# the network resizes its input to model.min_size = 96, so it computes as much, and the picture is larger).
dior synth "$RUN/data/train" --sequences 4 --frames 30 --size 288x384
dior synth "$RUN/data/held" --sequences 1 --first 4 --frames 40 --size 288x384
dior train "$RUN/data/train" --out "$RUN/train" --init none --config examples/train_tiny_cpu.yaml
dior infer "$RUN/data/held" --weights "$RUN/train/weights/final.pt" --out "$RUN/dets" --device cpu
dior track "$RUN/dets" --out "$RUN/tracks" --offline-reid
dior evaluate --gt "$RUN/data/held" --pred "$RUN/tracks" --out "$RUN/metrics.json"
dior render "$RUN/tracks" --frames "$RUN/data/held" --seq synth0004 --gt "$RUN/data/held" --trail 10 --out-dir "$RUN/render"
dior render "$RUN/tracks" --frames "$RUN/data/held" --seq synth0004 --trail 10 --out "$RUN/tracks.mp4"
cp "$RUN/render/$(printf '%06d' "$FRAME").png" "$RUN/error_view.png"
echo "wrote $RUN/error_view.png (frame $FRAME of synth0004)"
if [ "$UPDATE_DOCS" = 1 ]; then
  mkdir -p docs
  cp "$RUN/error_view.png" docs/error_view.png
  chmod 644 docs/error_view.png
  echo "replaced docs/error_view.png"
fi
