"""How many rows of each training split reach pandas, and at what rate.

At full scale the training tables are far larger than a driver can hold in
pandas (~12 M purchase rows, ~3.3 M cart rows), so training uses a sample,
planned here from the label counts Spark computed and drawn in Spark
(ml.spark_io). The plan keeps an exact number of rows per (split, label):

* a split with at most its cap of rows is kept whole (rate 1.0);
* otherwise every class is kept at the same rate cap / rows (rounded down per
  class): a proportional stratified sample. Test metrics computed on it
  (PR-AUC, precision, log loss, Brier, positive_rate_test) are then unbiased
  estimates of the full split's, and on the training side the base rate the
  baseline predicts, and that the other models are calibrated to, is the
  split's real one. The same_window split is always treated this way: its own
  test rows are carved from it.
* exception, for the train split only: when the uniform rate would keep fewer
  than `min_train_minority_rows` rows of the rarer class, that class is kept
  whole up to half the cap and the other class fills the rest. The models then
  learn from an inflated base rate (probabilities and the baseline run high;
  ranking metrics such as AUC are unaffected); a warning is logged.

Caps: Settings.max_test_rows for the test split (and each rolling-origin
fold's), Settings.max_train_rows for the others (train, same_window, gap,
rolling-origin train splits).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ml.settings import Settings
from ml.splits import training_splits
from ml.tasks import TaskSpec

log = logging.getLogger(__name__)

Counts = Mapping[Any, int]  # label value -> rows


def cap_split(counts: Counts, cap: int, min_minority: int = 0) -> dict[Any, int]:
    """Rows to keep per label so the split holds at most `cap` rows (rules above)."""
    total = sum(counts.values())
    if total <= cap:
        return dict(counts)
    keep = {label: n * cap // total for label, n in counts.items()}
    present = [label for label, n in counts.items() if n > 0]
    if min_minority > 0 and len(present) == 2:
        rare, common = sorted(present, key=lambda label: counts[label])
        if keep[rare] < min_minority:
            keep[rare] = max(keep[rare], min(counts[rare], cap // 2))
            keep[common] = min(counts[common], cap - keep[rare])
    return keep


@dataclass(frozen=True)
class SamplePlan:
    """Per training split: rows available and rows to keep, by label."""

    available: dict[str, dict[Any, int]]
    keep: dict[str, dict[Any, int]]

    def rows_available(self) -> dict[str, int]:
        return {split: sum(counts.values()) for split, counts in self.available.items()}

    def rows_kept(self) -> dict[str, int]:
        return {split: sum(counts.values()) for split, counts in self.keep.items()}

    def is_complete(self) -> bool:
        """True when nothing is left out (no sampling needed)."""
        return self.keep == self.available


def plan_sample(spec: TaskSpec, counts: Mapping[str, Counts], settings: Settings) -> SamplePlan:
    """The sample of `spec`'s training splits given split -> {label: rows}."""
    available: dict[str, dict[Any, int]] = {}
    keep: dict[str, dict[Any, int]] = {}
    for split in training_splits(spec, counts):
        available[split] = dict(counts.get(split, {}))
        if split == spec.test_split or split.endswith("_test"):  # a rolling-origin fold's test rows too
            keep[split] = cap_split(available[split], settings.max_test_rows)
        elif split == spec.train_split:
            keep[split] = cap_split(available[split], settings.max_train_rows, settings.min_train_minority_rows)
            if keep[split] != cap_split(available[split], settings.max_train_rows):
                log.warning(
                    "%s: %s rows sampled at different rates per label (kept %s of %s): at one rate the rarer "
                    "class would be too thin; the models learn an inflated base rate",
                    spec.name, split, keep[split], available[split],
                )  # fmt: skip
        else:
            keep[split] = cap_split(available[split], settings.max_train_rows)
    return SamplePlan(available=available, keep=keep)


def sample_rate(used: int, available: int) -> float:
    """Rows used / rows available; 1.0 when nothing was available to leave out."""
    return used / available if available else 1.0


def split_sample_rate(training: pd.DataFrame, split: str, rows_available: Mapping[str, int] | None) -> float:
    """Sample rate of one split of `training`; 1.0 when the frame is all there is
    (`rows_available` unknown, as when pandas frames are passed directly)."""
    if not rows_available or split not in rows_available:
        return 1.0
    used = int((training["split"].astype(str) == split).sum())
    return sample_rate(used, rows_available[split])


def fold_sample_rate(rows: pd.DataFrame, training: pd.DataFrame, rows_available: Mapping[str, int] | None) -> float:
    """Sample rate of a set of `rows` of `training` drawn from one or more
    splits (a cart rolling-origin fold mixes train, gap and test rows): rows
    used / the rows they stand for, each split's rows weighted by the inverse
    of its sample rate. Exactly the split's rate for rows of one whole split."""
    if rows.empty:
        return 1.0
    counts = rows["split"].astype(str).value_counts()
    stand_for = sum(n / split_sample_rate(training, split, rows_available) for split, n in counts.items())
    return float(len(rows) / stand_for)
