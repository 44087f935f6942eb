"""Offline re-linking of finished tracklets (the ``dior reid`` stage): ReMOTS's merging and
DIOR's long-term re-ID, on the short-term tracker, optical flow and thresholds of the shared
:mod:`dior_cli.association` layer (``dior adapt`` uses them too). Never imports torch."""
