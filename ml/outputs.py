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


# Everything a training run produced, one measure per row (see ml.runs); the
# diagnostic models (ml_model_metrics, ml_feature_importance, ml_calibration,
# ml_evaluation_curves, ml_recommendation_metrics) are SQL pivots of it.
TRAINING_RUNS = OutputSchema(
    "ml_training_runs",
    (
        ("run_id", "string"),
        ("trained_at", "timestamp"),
        ("task", "string"),
        ("model", "string"),
        ("evaluation", "string"),
        ("fold", "bigint"),
        ("model_version", "string"),
        ("record", "string"),
        ("item", "string"),
        ("position", "bigint"),
        ("measure", "string"),
        ("value", "double"),
        ("text", "string"),
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

OUTPUTS: tuple[OutputSchema, ...] = (
    TRAINING_RUNS,
    PURCHASE_PREDICTIONS,
    CART_PREDICTIONS,
    PRODUCT_RECOMMENDATIONS,
)
