"""Prefect flows, deployments and the xfmr command line: the composition root."""
