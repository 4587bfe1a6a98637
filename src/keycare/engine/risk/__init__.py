"""Churn risk: the seed's interpretable score, four health scores, and a learned, calibrated,
explained LightGBM model (issue 4). No Django here."""

# A month's churn risk of 10%: ~4x the base rate on the synthetic operator, the top ~3% of the
# in-scope base on the demo (181 of 6,108). The high-risk list's default threshold and the
# risk from which the daily run gives a score its reasons (KEYCARE_HIGH_RISK overrides it):
# exact reasons (TreeSHAP) cost ~0.5 ms of CPU a customer, 90% of scoring the whole base, and
# below this risk nobody acts on them (docs/risk.md).
DEFAULT_HIGH_RISK = 0.1
