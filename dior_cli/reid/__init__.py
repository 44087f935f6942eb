"""Offline re-linking of finished tracklets: DIOR's long-term re-ID (and, with the
``dior reid`` stage, ReMOTS merging). Pure numpy; never imports torch."""
