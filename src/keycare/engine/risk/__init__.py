"""Churn risk: the seed's interpretable score, four health scores, and a learned, calibrated,
explained LightGBM model (issue 4). No Django here."""
