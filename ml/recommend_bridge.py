"""What the dbt Python models ml_product_recommendations and
ml_recommendation_metrics call: Spark in, Spark out (ml.recommend does the work)."""

from __future__ import annotations

from typing import Any

from ml.recommend import METRICS_COLUMNS, RecommendSettings, ddl, evaluate, recommend
from ml.spark_io import to_spark

# dbt config key (set from a var in models/ml/ml_recommendations.yml) -> setting
CONFIG_SETTINGS = {
    "rec_top_n": "top_n",
    "ml_label_window_days": "test_days",
    "rec_active_days": "active_days",
    "rec_repeat_purchase_min_share": "repeat_min_share",
    "rec_repeat_purchase_min_buyers": "repeat_min_buyers",
}


def settings_from(config: Any) -> RecommendSettings:
    """RecommendSettings from the dbt config (values rendered as strings);
    k, the cut-off of the metrics, follows top_n."""
    chosen: dict[str, Any] = {}
    for key, name in CONFIG_SETTINGS.items():
        value = config.get(key)
        if value is None or str(value).strip().lower() in {"", "none", "null"}:
            continue
        chosen[name] = float(str(value)) if name == "repeat_min_share" else int(str(value))
    if "top_n" in chosen:
        chosen["k"] = chosen["top_n"]
    return RecommendSettings(**chosen)


def recommendations_model(session: Any, daily: Any, config: Any) -> Any:
    """ml_product_recommendations: the top-N list of every recently active user."""
    return recommend(daily, settings_from(config))


def recommendation_metrics_model(session: Any, daily: Any, config: Any) -> Any:
    """ml_recommendation_metrics: ALS and both baselines on the held-out days."""
    return to_spark(session, evaluate(daily, settings_from(config)), ddl(METRICS_COLUMNS))
