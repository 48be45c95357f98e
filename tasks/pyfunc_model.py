"""MLflow pyfunc for the failure model, logged as code (no pickle): readings in, calibrated probabilities out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.models import set_model

from tasks.model import MODEL_ARTIFACT



class TransformerFailurePyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """Compute the shared features for each reading and return its failure probability."""

    def load_context(self, context: Any) -> None:
        from tasks.model import FailureModel

        self._model = FailureModel.load(Path(context.artifacts[MODEL_ARTIFACT]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from tasks.features import features_for_model

        features = features_for_model(model_input, self._model.feature_columns)
        return pd.DataFrame({"failure_probability": self._model.predict_proba(features)})


set_model(TransformerFailurePyfunc())
