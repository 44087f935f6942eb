"""dior: multi-object tracking and segmentation (DIOR tracker, ReMOTS refinement)."""

__version__ = "0.1.0"
