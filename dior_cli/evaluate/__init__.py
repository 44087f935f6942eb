"""MOTS metrics (HOTA, CLEAR, Identity) matching TrackEval 1.3.0 exactly."""
