"""``dior render``: draw tracks (and, with ground truth, the evaluation's errors) on frames."""
