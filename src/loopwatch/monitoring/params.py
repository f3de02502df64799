"""Monitoring thresholds and knobs: the ``monitoring:`` section of params.yaml.

Defaults keep Evidently's own drift tests (so our numbers match its reports) and turn the
big-data guard off; everything a test or benchmark shrinks is a field here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MonitoringParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: str = "1d"  # how much of the prediction log one monitoring run reads

    # --- drift: Evidently's DataDriftPreset defaults unless set --------------------------
    drift_share: float = Field(0.5, gt=0, le=1)  # dataset drift when >= this share of columns drift
    # None: Evidently picks by reference size (<=1000 rows: KS / chi2 / Z p-values; more:
    # normed Wasserstein / Jensen-Shannon distances). Any Evidently stattest name otherwise.
    # Known: Evidently's chi-square (categorical, <=1000 reference rows) is a goodness-of-fit
    # test that takes the reference frequencies as exact; on i.i.d. equal-size splits a 4-level
    # column alarms ~27% of the time, not 5% (tests/integration/test_monitoring_false_alarms).
    # cat_method: jensenshannon (or fdr_correction) quiets it, at the cost of differing
    # from Evidently's default report.
    num_method: str | None = None
    cat_method: str | None = None
    drift_threshold: float | None = None  # None: the method's own default (0.05 p / 0.1 distance)
    # Big-data guard, applied on top of Evidently's verdicts for p-value tests only:
    # a column drifts only if its effect size (normed Wasserstein / Jensen-Shannon) reaches
    # the floor, and p-values are Benjamini-Hochberg adjusted across columns. Off by default.
    effect_size_floor: float | None = Field(None, ge=0)
    fdr_correction: bool = False

    # --- group fairness -------------------------------------------------------------------
    min_group_size: int = Field(50, ge=1)  # smaller groups are reported as too small, not scored
    n_boot: int = Field(1000, ge=50)  # bootstrap resamples for the 95% intervals
    ci_level: float = Field(0.95, gt=0.5, lt=1)
    seed: int = 0

    # --- retraining policy ----------------------------------------------------------------
    retrain_drift_share: float = Field(0.5, gt=0, le=1)  # policy threshold on the drift share
    max_accuracy_drop: float = Field(0.05, gt=0, lt=1)  # vs the model version's test accuracy
    max_fairness_gap: float = Field(0.10, gt=0, lt=1)  # demographic-parity / equal-opportunity
    # the four-fifths rule; None: not a retraining condition (DI is still reported)
    min_disparate_impact: float | None = Field(0.8, gt=0, le=1)
    min_labelled_rows: int = Field(200, ge=1)  # quality and label-based fairness need this many
    consecutive_windows: int = Field(2, ge=1)  # a breach must persist this long to act
    hysteresis: float = Field(0.8, gt=0, le=1)  # an active breach clears below this x threshold
    cooldown_hours: float = Field(72.0, ge=0)  # no second retrain this soon after one

    # --- scale -----------------------------------------------------------------------------
    stream_above_rows: int = Field(200_000, ge=1)  # larger windows take the chunked path
    chunk_rows: int = Field(100_000, ge=1_000)
    sketch_bins: int = Field(2_000, ge=50)  # reference-quantile bins of the Wasserstein sketch
    report_sample_rows: int = Field(50_000, ge=1_000)  # stream: quality + Evidently HTML sample
    small_reference_sample_rows: int = Field(20_000, ge=1_000)  # see sketch.py: p-value slices
