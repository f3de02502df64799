"""Monitoring dashboard of a model's Evidently project, as code.

``loopwatch dashboards`` loads this file (by path: dashboards/ is not a package) and applies
``panels(columns, sensitive)`` to the project of each monitored model, replacing what was
there. Every panel plots numbers of the per-window "headline" snapshots that
``loopwatch.monitoring.workspace.add_window`` stores: each number is a built-in MeanValue
metric whose ``column`` label is the headline name (``loopwatch.monitoring.results``), so the
Evidently UI renders them without importing loopwatch.
"""

from __future__ import annotations

from evidently.sdk.models import DashboardPanelPlot, PanelMetric
from evidently.sdk.panels import counter_panel, line_plot_panel

from loopwatch.monitoring.fairness import DI, DP, EO
from loopwatch.monitoring.results import headline_key
from loopwatch.monitoring.workspace import DRIFT_LINE, FOUR_FIFTHS

TAB = "Monitoring"  # one tab: every panel renders on the page the UI opens first
TITLES = {  # tests check the rendered page for these
    "drift_share": "Dataset drift share over time",
    "column_drift": "Per-column drift scores",
    "accuracy": "Accuracy over time",
    "fairness_ratio": "Disparate-impact ratio (four-fifths rule at 0.8)",
    "fairness_gap": "Fairness gaps: demographic parity and equal opportunity",
    "labelled_share": "Share of predictions with labels",
}


def value(name: str, legend: str) -> PanelMetric:
    """One headline number, as the UI finds it: MeanValue of the column of that name."""
    return PanelMetric(legend=legend, metric="MeanValue", metric_labels={"column": name},
                       tags=["headline"])


def panels(columns: list[str], sensitive: list[str]) -> list[tuple[str, DashboardPanelPlot]]:
    """The panels for a model whose drift-tested columns and sensitive attributes are given."""
    out = [
        counter_panel("Latest dataset drift share", [value("drift_share", "drift share")],
                      size="half"),
        counter_panel("Latest accuracy", [value("accuracy", "accuracy")], size="half"),
        line_plot_panel(TITLES["drift_share"], [
            value("drift_share", "share of drifted columns"),
            value(DRIFT_LINE, "policy threshold"),
        ], description="calibrated per-column verdicts (where nothing changed, at most 5% "
           "of windows alarm); the line is the share at which the policy retrains"),
        line_plot_panel(TITLES["column_drift"], [
            value(headline_key("drift_score", c), c) for c in columns
        ], description="effect size: normed Wasserstein / Jensen-Shannon distance; a column "
           "drifts at >= 0.1 when its test is also significant"),
        line_plot_panel(TITLES["accuracy"], [
            value("accuracy", "accuracy"), value("f1", "F1"), value("roc_auc", "ROC AUC"),
        ], description="on the rows whose labels have arrived", size="half"),
        line_plot_panel(TITLES["labelled_share"], [value("labelled_share", "labelled share")],
                        description="labels arrive later than predictions", size="half"),
        line_plot_panel(TITLES["fairness_ratio"], [
            *(value(headline_key("fairness", a, DI), a) for a in sensitive),
            value(FOUR_FIFTHS, "four-fifths rule (0.8)"),
        ], description="min / max selection rate across groups; below 0.8 fails the rule"),
        line_plot_panel(TITLES["fairness_gap"], [
            value(headline_key("fairness", a, gap), f"{a}: {label}")
            for a in sensitive for gap, label in ((DP, "demographic parity"),
                                                  (EO, "equal opportunity"))
        ], description="max - min across groups of selection rate / true-positive rate"),
    ]
    return [(TAB, p) for p in out]
