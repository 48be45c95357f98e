"""Building blocks of the pipeline: the steps (ingest, features, split, train, evaluate, gate, registry I/O) and the
shared domain and feature code, as plain typed functions importable without Prefect."""
