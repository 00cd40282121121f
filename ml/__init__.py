"""Machine learning for the REES46 analytics project (no dbt/Spark dependency
outside spark_io, dbt_bridge and recommend).

Two classification tasks, each trained from a dbt-built table converted to pandas:

* ``purchase_propensity`` - will a user purchase in the next window?
  (``ml_purchase_training_set``; evaluations ``forecast`` and ``same_window``)
* ``cart_conversion`` - will a cart addition be purchased?
  (``ml_cart_training_set``; evaluation ``forecast`` on a time split)

and a product recommender (``ml.recommend``). Training: :func:`train_task`,
:func:`save_models`; scoring: :func:`load_model`, :func:`score_purchase`,
:func:`score_carts`; the training-run table: ``ml.runs``.
"""

from ml.evaluate import IMPORTANCE_COLUMNS, METRIC_COLUMNS, compute_metrics, feature_importance
from ml.models import FittedModel
from ml.persist import load_model, save_model
from ml.pipeline import (
    CART_SCORE_COLUMNS,
    PURCHASE_SCORE_COLUMNS,
    TaskResult,
    best_model,
    importance_frame,
    save_models,
    score_carts,
    score_purchase,
    train_task,
)
from ml.settings import MODEL_NAMES, Settings
from ml.tasks import (
    CART_TASK,
    LEAKY_COLUMNS,
    PURCHASE_TASK,
    LeakageError,
    assert_no_leakage,
    feature_columns,
    is_leaky,
)

__all__ = [
    "CART_SCORE_COLUMNS",
    "CART_TASK",
    "IMPORTANCE_COLUMNS",
    "LEAKY_COLUMNS",
    "METRIC_COLUMNS",
    "MODEL_NAMES",
    "PURCHASE_SCORE_COLUMNS",
    "PURCHASE_TASK",
    "FittedModel",
    "LeakageError",
    "Settings",
    "TaskResult",
    "assert_no_leakage",
    "best_model",
    "compute_metrics",
    "feature_columns",
    "feature_importance",
    "importance_frame",
    "is_leaky",
    "load_model",
    "save_model",
    "save_models",
    "score_carts",
    "score_purchase",
    "train_task",
]
