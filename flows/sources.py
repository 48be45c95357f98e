"""Resolve what a training run reads: a given folder, a dataset spec, or the default fleet (generated once)."""

from __future__ import annotations

from pathlib import Path

from flows.settings import PipelineSettings
from tasks.sources import TrainingData, load_fleet

# The default fleet is for training experiments: the failure rate is raised well above the
# realistic 0.3-0.6 %/yr so a few years of a few hundred units hold enough failures to learn from.
DEFAULT_FLEET = {"assets": 300, "years": 4.0, "seed": 7, "failure_rate": 0.06}


def ensure_default_fleet(settings: PipelineSettings) -> Path:
    """Generate the default training fleet under XFMR_HOME unless it is already there."""
    from fleetsim import GeneratorConfig, generate_fleet

    folder = settings.fleet_dir
    if not (folder / "assets.parquet").is_file():
        print(f"no fleet at {folder}: generating the default training fleet {DEFAULT_FLEET}")
        generate_fleet(GeneratorConfig(**DEFAULT_FLEET), folder)  # type: ignore[arg-type]
    return folder


def load_training_data(data_dir: str | None, dataset_spec: str | None, settings: PipelineSettings) -> TrainingData:
    """Load and validate the data a run trains on."""
    if data_dir and dataset_spec:
        raise ValueError("give either data_dir or dataset_spec, not both")
    if dataset_spec:
        from tasks.dataset_spec import load_spec_data

        return load_spec_data(Path(dataset_spec))
    folder = Path(data_dir) if data_dir else ensure_default_fleet(settings)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    return load_fleet(folder)
