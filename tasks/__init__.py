"""Building blocks of the pipeline: plain, typed functions on DataFrames, importable without Prefect."""
