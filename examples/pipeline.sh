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

# 2. Settings: every key with its meaning, unit and default; check a config of your own.
dior config > "$RUN/config.yaml"
dior config --config "$RUN/config.yaml" --set track.n1_seconds=0.3
