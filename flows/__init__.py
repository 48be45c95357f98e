"""Prefect flows (training, gate, monitoring), their deployments and the pipeline settings."""
