"""Feedback-loop dashboard of the Evidently "feedback-loop" project, as code.

``loopwatch.monitoring.loop_snapshots.record_loops`` loads this file (by path: dashboards/
is not a package) and applies ``loop_panels(worlds)``: one tab per world (simulator or
model lineage), each panel drawing one line per variant (e.g. naive vs IPS-weighted
retraining) and unit. Every number is a built-in MeanValue metric of a per-generation
snapshot, picked by its ``column`` label and by the snapshot tags ``feedback-loop``, world
and variant, so the Evidently UI renders it without importing loopwatch.

The function is deliberately not called ``panels``: ``loopwatch dashboards`` applies every
``panels(columns, sensitive)`` here to a model's monitoring project, which these are not for.
"""

from __future__ import annotations

from collections.abc import Mapping

from evidently.sdk.models import DashboardPanelPlot, PanelMetric
from evidently.sdk.panels import counter_panel, line_plot_panel

TAG = "feedback-loop"  # loopwatch.monitoring.loop_snapshots.TAG
ORIGINS = ("organic", "model-selected", "exploration")
TITLES = {  # tests check the applied dashboard for these
    "exposure": "Exposure share per unit",
    "estimates": "Naive vs inverse-propensity (SNIPS) estimate per unit",
    "ess": "Effective sample size per unit",
    "origin": "Label-origin share (rho = decision-dependent labels)",
    "gap": "Naive-vs-IPS gap (what the loop detector watches)",
}


def value(name: str, legend: str, world: str, variant: str) -> PanelMetric:
    """One per-generation number of one world and variant."""
    return PanelMetric(legend=legend, metric="MeanValue", metric_labels={"column": name},
                       tags=[TAG, world, variant])


def world_panels(world: str, variants: list[str], units: list[str]) -> list[DashboardPanelPlot]:
    """The panels of one world: every panel holds a line per variant (and unit)."""
    def lines(name: str, legend: str, per_unit: bool = True) -> list[PanelMetric]:
        keys = [(f"{name}.{u}", f" {u}") for u in units] if per_unit else [(name, "")]
        return [value(key, f"{variant}: {legend}{suffix}", world, variant)
                for variant in variants for key, suffix in keys]

    truth = [value(f"truth_share.{u}", f"truth {u}", world, variants[0]) for u in units]
    return [
        *(counter_panel(f"Latest naive-vs-IPS gap: {variant}",
                        [value("naive_ips_gap", "gap", world, variant)], size="half")
          for variant in variants),
        line_plot_panel(TITLES["exposure"], lines("exposure_share", "exposure"),
                        description="share of decisions (patrols, slots) given to each unit; "
                                    "a runaway loop piles them onto one", size="half"),
        line_plot_panel(TITLES["gap"], lines("naive_ips_gap", "gap", per_unit=False),
                        description="½·Σ|naive − IPS| over units; rising across generations "
                                    "= loop suspected", size="half"),
        line_plot_panel(TITLES["estimates"], [
            *lines("naive_share", "naive"), *lines("ips_share", "IPS"), *truth,
        ], description="share of outcomes per unit counted as logged (naive) and weighted "
                       "by 1/propensity (self-normalised); truth where a simulator knows it"),
        line_plot_panel(TITLES["ess"], lines("ess", "ESS"),
                        description="(Σw)²/Σw² of w = 1/propensity over each unit's decisions: "
                                    "how many rows the IPS estimate is really worth",
                        size="half"),
        line_plot_panel(TITLES["origin"], [
            *(m for o in ORIGINS for m in lines(f"origin_share.{o}", o, per_unit=False)),
            *lines("rho", "rho", per_unit=False),
        ], description="organic | model-selected | exploration share of the generation's "
                       "labels; rho = 1 − organic", size="half"),
    ]


LENDING = "lending"  # the selective-labels world (loopwatch simulate lending): its own panels
LENDING_TITLES = {
    "rate": "Applicants' >50K rate: naive vs SNIPS estimate vs truth",
    "approval": "Approval rate per group",
    "accuracy": "Accuracy: true (all applicants) vs on revealed labels only",
}


def lending_panels(world: str, variants: list[str], groups: list[str]
                   ) -> list[DashboardPanelPlot]:
    """The lending loop's own numbers (``lending_loop_metrics.SNAPSHOT_VALUES``); the units
    of the generic panels are the groups (e.g. sex)."""
    def lines(pairs: list[tuple[str, str]]) -> list[PanelMetric]:
        return [value(name, f"{variant}: {legend}", world, variant)
                for variant in variants for name, legend in pairs]

    return [
        line_plot_panel(LENDING_TITLES["rate"], [
            *lines([("naive_rate", "naive"), ("snips_rate", "SNIPS"),
                    ("model_rate", "model's mean score")]),
            value("true_rate", "truth", world, variants[0]),
        ], description="naive = share of >50K among the revealed labels (only approved or "
                       "explored applicants); SNIPS weights each by 1/P(label revealed)"),
        line_plot_panel(LENDING_TITLES["approval"], lines(
            [("approval_rate", "all"), *((f"approval_rate.{g}", g) for g in groups),
             ("dp_gap", "demographic parity gap")]), size="half",
            description="share of applicants approved, per group, and the gap between them"),
        line_plot_panel(LENDING_TITLES["accuracy"], lines(
            [("true_accuracy", "true"), ("observed_accuracy", "on revealed labels"),
             ("ips_accuracy", "IPS-weighted on revealed labels")]), size="half",
            description="what the model really scores vs what its own labels say it scores "
                        "(the selective-labels illusion)"),
    ]


def loop_panels(worlds: Mapping[str, tuple[list[str], list[str]]]
                ) -> list[tuple[str, DashboardPanelPlot]]:
    """(tab, panel) for every world; ``worlds`` maps a world to (variants, unit names)."""
    return [(world, panel) for world, (variants, units) in worlds.items()
            for panel in [*world_panels(world, list(variants), list(units)),
                          *(lending_panels(world, list(variants), list(units))
                            if world == LENDING else [])]]
