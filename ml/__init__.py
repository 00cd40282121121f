"""Machine learning for the REES46 analytics project (no dbt/Spark dependency).

Two tasks, each trained from a dbt-built table converted to pandas:

* ``purchase_propensity`` - will a user purchase in the next window?
  (``ml_purchase_training_set``; evaluations ``forecast`` and ``same_window``)
* ``cart_conversion`` - will a cart addition be purchased?
  (``ml_cart_training_set``; evaluation ``forecast`` on a time split)

Entry points for dbt Python models: :func:`train_or_load`, :func:`metrics_frame`,
:func:`importance_frame`, :func:`score_purchase`, :func:`score_carts`.
"""

from ml.evaluate import IMPORTANCE_COLUMNS, METRIC_COLUMNS, compute_metrics, feature_importance
from ml.models import FittedModel
from ml.persist import list_models, load_latest, load_model, save_model
from ml.pipeline import (
    CART_SCORE_COLUMNS,
    PURCHASE_SCORE_COLUMNS,
    TaskResult,
    importance_frame,
    metrics_frame,
    score_carts,
    score_purchase,
    train_or_load,
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
    "compute_metrics",
    "feature_columns",
    "feature_importance",
    "importance_frame",
    "is_leaky",
    "list_models",
    "load_latest",
    "load_model",
    "metrics_frame",
    "save_model",
    "score_carts",
    "score_purchase",
    "train_or_load",
    "train_task",
]
