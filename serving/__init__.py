"""The scoring service: FastAPI serving the registered champion (no Prefect, no Evidently)."""
