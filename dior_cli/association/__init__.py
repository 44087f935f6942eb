"""Association shared by the stages (``track``, ``reid``, ``adapt``; none imports another):
the gated Hungarian assignment, DIOR's long-term linking of tracklets, ReMOTS's short-term
tracker with its optical-flow mask warping, the similarity samples and the thresholds read
from them. Never imports torch."""
