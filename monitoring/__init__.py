"""Drift detection and drift policy: the only package that imports Evidently."""
