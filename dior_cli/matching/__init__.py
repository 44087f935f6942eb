"""Matching ground truth to predictions exactly as TrackEval 1.3.0 does, for masks.

A library, not a stage: ``dior evaluate`` scores with it and ``dior render --gt`` draws
what it matched, so both show the same matches. Nothing here imports torch.

* :mod:`~dior_cli.matching.assignment`: scipy's assignment solver (TrackEval's tie-breaking).
* :mod:`~dior_cli.matching.mask_runs`: COCO compressed RLE decoded to pixel intervals,
  many masks per numpy pass.
* :mod:`~dior_cli.matching.frame_pairs`: a sequence's per-frame IoU and ignore-region
  fractions, and overlap checks, from those intervals.
* :mod:`~dior_cli.matching.class_sequence`: TrackEval's per-class preprocessing.
* :mod:`~dior_cli.matching.sequence_data`: the preprocessed sequence the metrics read.
* :mod:`~dior_cli.matching.clear_matching`: the CLEAR matches (MOTA's TP and ID switches).
"""
