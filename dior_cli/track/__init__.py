"""The online DIOR tracker (DIOR sec. 3.4): costs, gated Hungarian assignment, the
per-sequence tracker, and the ``dior track`` stage. Never imports torch."""
