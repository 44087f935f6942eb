"""Training data: three-frame MOTS clips with their targets (:mod:`~dior_cli.data.clips`),
clip-consistent augmentation (:mod:`~dior_cli.data.augment`), the checks that a dataset's
frames and ground truth belong together (:mod:`~dior_cli.data.sequences`), and a synthetic
MOTS generator (:mod:`~dior_cli.data.synthetic`)."""
