"""Every table the dbt Python models write: its columns and Spark types,
declared once.

The Spark schema each model writes with (`OutputSchema.ddl`) and the pandas
column order (`OutputSchema.columns`) come from here; a test checks that each
model's YAML documents exactly these columns in this order, so docs and data
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutputSchema:
    """The columns of one dbt Python model's table, in order, with Spark types."""

    model: str
    fields: tuple[tuple[str, str], ...]

    @property
    def columns(self) -> list[str]:
        return [name for name, _ in self.fields]

    @property
    def ddl(self) -> str:
        """'column type, ...' as createDataFrame / mapInPandas take it."""
        return ", ".join(f"{name} {kind}" for name, kind in self.fields)


MODEL_METRICS = OutputSchema(
    "ml_model_metrics",
    (
        ("task", "string"),
        ("model", "string"),
        ("evaluation", "string"),
        ("fold", "bigint"),
        ("auc_roc", "double"),
        ("pr_auc", "double"),
        ("log_loss", "double"),
        ("brier", "double"),
        ("brier_uncalibrated", "double"),
        ("accuracy", "double"),
        ("precision", "double"),
        ("recall", "double"),
        ("threshold", "double"),
        ("k", "bigint"),
        ("precision_at_k", "double"),
        ("recall_at_k", "double"),
        ("ndcg_at_k", "double"),
        ("n_train", "bigint"),
        ("n_test", "bigint"),
        ("train_sample_rate", "double"),
        ("test_sample_rate", "double"),
        ("positive_rate_test", "double"),
        ("train_start", "date"),
        ("train_end", "date"),
        ("test_start", "date"),
        ("test_end", "date"),
        ("parameters", "string"),
        ("model_version", "string"),
        ("trained_at", "timestamp"),
        ("status", "string"),
    ),
)

FEATURE_IMPORTANCE = OutputSchema(
    "ml_feature_importance",
    (
        ("task", "string"),
        ("model", "string"),
        ("feature", "string"),
        ("importance", "double"),
        ("importance_type", "string"),
        ("rank", "bigint"),
        ("model_version", "string"),
    ),
)

CALIBRATION = OutputSchema(
    "ml_calibration",
    (
        ("task", "string"),
        ("model", "string"),
        ("evaluation", "string"),
        ("calibrated", "boolean"),
        ("bin", "bigint"),
        ("mean_predicted", "double"),
        ("observed_rate", "double"),
        ("rows", "bigint"),
        ("model_version", "string"),
    ),
)

EVALUATION_CURVES = OutputSchema(
    "ml_evaluation_curves",
    (
        ("task", "string"),
        ("model", "string"),
        ("evaluation", "string"),
        ("curve", "string"),
        ("point", "bigint"),
        ("x", "double"),
        ("y", "double"),
        ("threshold", "double"),
        ("model_version", "string"),
    ),
)

PURCHASE_PREDICTIONS = OutputSchema(
    "ml_purchase_predictions",
    (
        ("user_id", "bigint"),
        ("purchase_probability", "double"),
        ("predicted_purchase", "boolean"),
        ("model", "string"),
        ("model_version", "string"),
        ("scored_at", "timestamp"),
    ),
)

CART_PREDICTIONS = OutputSchema(
    "ml_cart_predictions",
    (
        ("cart_event_id", "string"),
        ("user_id", "bigint"),
        ("product_id", "bigint"),
        ("cart_at", "timestamp"),
        ("purchase_probability", "double"),
        ("predicted_purchase", "boolean"),
        ("model", "string"),
        ("model_version", "string"),
        ("scored_at", "timestamp"),
    ),
)

PRODUCT_RECOMMENDATIONS = OutputSchema(
    "ml_product_recommendations",
    (
        ("user_id", "bigint"),
        ("product_id", "bigint"),
        ("rank", "bigint"),
        ("score", "double"),
        ("model", "string"),
        ("model_version", "string"),
        ("recommended_at", "timestamp"),
    ),
)

# The recommenders' rows, which ml_model_metrics also carries (its other columns null).
RECOMMENDATION_METRICS = OutputSchema(
    "ml_recommendation_metrics",
    (
        ("task", "string"),
        ("model", "string"),
        ("evaluation", "string"),
        ("k", "bigint"),
        ("precision_at_k", "double"),
        ("recall_at_k", "double"),
        ("ndcg_at_k", "double"),
        ("n_train", "bigint"),
        ("n_test", "bigint"),
        ("train_start", "date"),
        ("train_end", "date"),
        ("test_start", "date"),
        ("test_end", "date"),
        ("model_version", "string"),
        ("trained_at", "timestamp"),
    ),
)

OUTPUTS: tuple[OutputSchema, ...] = (
    MODEL_METRICS,
    FEATURE_IMPORTANCE,
    CALIBRATION,
    EVALUATION_CURVES,
    PURCHASE_PREDICTIONS,
    CART_PREDICTIONS,
    PRODUCT_RECOMMENDATIONS,
    RECOMMENDATION_METRICS,
)
