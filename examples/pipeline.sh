#!/usr/bin/env bash
# A dior pipeline to copy. Each stage reads only upstream files and writes its own folder,
# so any line can be re-run alone. Stages are added here as they land.
#
#   DATA=../shared/data bash examples/pipeline.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
RUN=${RUN:-runs/example}
mkdir -p "$RUN"

# 1. See what dior finds in a dataset, a video or a folder of frames (validates every file it reads).
dior inspect "$DATA/kitti_mots"
dior inspect "$DATA/video/vtest.avi"
dior inspect "$DATA/kitti_mots/instances_txt/0000.txt" --frame-base 0 --json > "$RUN/0000.summary.json"

# 2. Score tracks against ground truth (here the ground truth itself, as a sanity check:
#    every metric is 100 %). Replace $RUN/tracks with the output of `dior track`.
mkdir -p "$RUN/tracks"
cp "$DATA"/kitti_mots/instances_txt/{0000,0012}.txt "$RUN/tracks/"
printf '0000 empty 000000 000153\n0012 empty 000000 000077\n' > "$RUN/two.seqmap"
dior evaluate --gt "$DATA/kitti_mots" --pred "$RUN/tracks" --seqmap "$RUN/two.seqmap" \
  --out "$RUN/metrics.json" --csv "$RUN/metrics.csv"

# 3. Settings: every key with its meaning, unit and default; check a config of your own.
dior config > "$RUN/config.yaml"
dior config --config "$RUN/config.yaml" --set track.n1_seconds=0.3
