#!/usr/bin/env bash
# A dior pipeline to copy. Each stage reads only upstream files and writes its own folder,
# so any line can be re-run alone.
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

# 4. Detections from another detector (here PointTrack's masks on KITTI-MOTS test sequence 0000,
#    cars and pedestrians as two sets), fused by IoM-NMS and embedded with the shipped OSNet;
#    then tracked. The frames are not in the shared data, so a folder of blank frames of the
#    right size stands in for them (OSNet then sees grey crops: for real use, give real frames).
python - "$RUN/frames/0000" <<'PY'
import sys, pathlib, numpy as np, cv2
out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
for t in range(465):
    cv2.imwrite(str(out / f"{t:06d}.png"), np.full((375, 1242, 3), 128, np.uint8))
PY
mkdir -p "$RUN/given/car" "$RUN/given/person"
cp "$DATA/pointtrack_kitti_mots_test/car/0000.txt" "$RUN/given/car/0000.txt"
cp "$DATA/pointtrack_kitti_mots_test/person/0000.txt" "$RUN/given/person/0000.txt"
dior infer "$RUN/frames/0000" --detections "$RUN/given/car" --detections "$RUN/given/person" --out "$RUN/given_dets"
dior track "$RUN/given_dets" --fps 10 --offline-reid --out "$RUN/given_tracks"

# 5. Train, infer, track, evaluate, render on synthetic data (no download; a few CPU minutes):
#    see examples/synthetic_pipeline.sh, which also rebuilds docs/error_view.png.
