"""Recommender feedback-loop dashboard of the ``<model>-loop`` Evidently project, as code.

``loopwatch recsys simulate`` loads this file by path and applies ``recommender_panels(k)``
to the project it fills: one headline snapshot per generation (built-in MeanValue metrics
named ``<arm>.<metric>``, arm = model | random | ideal) and one Evidently recsys report of
the model arm's slates. The function is not called ``panels`` so that ``loopwatch
dashboards`` (which applies every ``panels()`` here to the tabular model) leaves it alone.
"""

from __future__ import annotations

from evidently.sdk.models import DashboardPanelPlot, PanelMetric
from evidently.sdk.panels import counter_panel, line_plot_panel

TAB = "Feedback loop"
ARMS = ("model", "random", "ideal")
GROUPS = ("F", "M")
TITLES = {
    "jaccard": "Homogenisation: pairwise Jaccard of consumed sets",
    "gini": "Exposure Gini over items",
    "coverage": "Catalogue coverage of the slates",
    "popularity": "Recommended / profile popularity (organic yardstick), per gender",
    "live": "Popularity in the training data: recommended items and the data itself",
    "rmse": "RMSE on uniform (user, item) pairs, per gender",
    "precision": "Precision@k against the true top items, per gender",
    "evidently": "Evidently: personalization and popularity bias (model arm)",
}


def value(name: str, legend: str) -> PanelMetric:
    return PanelMetric(legend=legend, metric="MeanValue", metric_labels={"column": name},
                       tags=["headline"])


def per_arm(metric: str, arms=ARMS) -> list[PanelMetric]:
    return [value(f"{arm}.{metric}", arm) for arm in arms]


def per_group(metric: str, arms=("model", "random")) -> list[PanelMetric]:
    return [value(f"{arm}.{metric}.{g}", f"{arm} {g}") for arm in arms for g in GROUPS]


def recommender_panels(k: int = 10) -> list[tuple[str, DashboardPanelPlot]]:
    out = [
        counter_panel("Feedback loop suspected (1 = yes)", [value("loop_suspected", "alert")],
                      size="half"),
        counter_panel("Latest slate Jaccard, model arm", [value("model.slate_jaccard",
                                                                "Jaccard")], size="half"),
        line_plot_panel(TITLES["jaccard"], per_arm("jaccard") + per_arm("slate_jaccard"),
                        description="Chaney et al.: rises under the retrained model, stays "
                                    "low for a random recommender"),
        line_plot_panel(TITLES["gini"], per_arm("exposure_gini"), size="half"),
        line_plot_panel(TITLES["coverage"], per_arm("exposure_coverage"), size="half"),
        line_plot_panel(TITLES["live"], per_arm("rec_popularity_live")
                        + per_arm("train_popularity"),
                        description="Mansoury et al.: what the model trains on concentrates "
                                    "on what it recommended; 1 = an average item"),
        line_plot_panel(TITLES["popularity"], per_arm("popularity_lift")
                        + per_group("popularity_lift", ("model", "ideal")),
                        description="Mansoury et al.: the minority group's gap widens"),
        line_plot_panel(TITLES["rmse"], per_group("rmse"), size="half"),
        line_plot_panel(TITLES["precision"], per_group(f"precision_at_{k}"), size="half"),
        line_plot_panel(TITLES["evidently"], [
            PanelMetric(legend="personalization", metric="Personalization", tags=["recsys"]),
            *(PanelMetric(legend=f"popularity {m}", metric="PopularityBiasMetric",
                          metric_labels={"metric": m}, tags=["recsys"])
              for m in ("gini", "coverage")),
        ], description="Evidently's own recsys metrics of the model arm's slates"),
    ]
    return [(TAB, p) for p in out]
