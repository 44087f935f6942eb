"""The online DIOR tracker (DIOR sec. 3.4): costs, the per-sequence tracker, and the
``dior track`` stage. The gated Hungarian assignment and long-term linking it uses live in
the shared :mod:`dior_cli.association` layer (``reid`` uses them too). Never imports torch."""
