"""PNG figures of the feedback-loop simulators, for reports and the README.

Why no pyplot: these functions run inside flows, tests and servers. Each one
builds a ``matplotlib.figure.Figure`` on an explicit Agg canvas, saves it and
drops it, so no global pyplot state, backend switch or open figure leaks out.
matplotlib is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from loopwatch.simulation.policing import stable_point

if TYPE_CHECKING:
    from loopwatch.simulation.attention import AttentionResult
    from loopwatch.simulation.policing import UrnResult


def _figure(size: tuple[float, float]) -> Any:
    """A Figure attached to an Agg canvas (no pyplot, no GUI backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    fig.clear()
    return path


def plot_urn_share(results: Mapping[str, UrnResult], path: str | Path,
                   district: int = 0) -> Path:
    """Share of patrols sent to ``district`` over days: median and 5-95% band per result.

    Drawn as in Ensign et al.: a log-x days axis, the truth lambda_i / sum(lambda)
    and the runaway share 1.0 as horizontal lines. Pass e.g.
    ``{"no fix": simulate_urn(cfg), "fix": simulate_urn(replace(cfg, fix=True))}``;
    record with ``log_points`` so the early days show on the log axis.
    """
    from loopwatch.monitoring.loop_snapshots import unit_name

    if not results:
        raise ValueError("nothing to plot")
    fig = _figure((7.0, 4.2))
    ax = fig.add_subplot()
    for (label, result), colour in zip(results.items(), ("C3", "C0", "C2", "C1"), strict=False):
        days = result.record_days
        keep = days >= 1  # day 0 has no place on a log axis
        share = result.shares[keep, :, district]
        low, median, high = np.percentile(share, [5, 50, 95], axis=1)
        ax.fill_between(days[keep], low, high, color=colour, alpha=0.2, linewidth=0)
        ax.plot(days[keep], median, color=colour, label=f"{label}: median, 5-95% band")
    truth = stable_point(next(iter(results.values())).config.rates)[district]
    ax.axhline(truth, color="k", linestyle="--", linewidth=1,
               label=f"truth lambda/sum(lambda) = {truth:.3f}")
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1, label="runaway (all patrols)")
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("day")
    ax.set_ylabel(f"share of patrols to district {unit_name(int(district))}")
    ax.set_title("Pólya-urn predictive policing: runaway loop and its fix")
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, path)


def plot_attention_delta(sweep: Mapping[str, Mapping[float, AttentionResult]],
                         path: str | Path) -> Path:
    """Delta (range of discovered/occurred over sites) against the dynamic rate d, per agent.

    ``sweep`` is what ``attention.sweep_dynamic_rate`` returns. Error bars are
    +-2 standard errors of the per-run Delta, so overlapping agents are visible.
    """
    if not sweep:
        raise ValueError("nothing to plot")
    fig = _figure((6.0, 4.0))
    ax = fig.add_subplot()
    for i, (agent, by_d) in enumerate(sweep.items()):
        d = np.array(sorted(by_d))
        delta = np.array([by_d[x].delta() for x in d])
        per_run = [by_d[x].delta_per_run() for x in d]
        err = np.array([2 * np.nanstd(r) / np.sqrt(max(1, r.size)) for r in per_run])
        ax.errorbar(d, delta, yerr=err, marker="o", capsize=3, color=f"C{i}", label=agent)
    ax.set_xlabel("dynamic rate d")
    ax.set_ylabel("Delta = max - min of discovered/occurred")
    ax.set_ylim(bottom=0.0)
    ax.set_title("Attention allocation: fairness over dynamics")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_logged_loop(loops: Mapping[str, Any], truth: float, epsilon: float,
                     path: str | Path) -> Path:
    """Generation by generation: the model's share for district A, and the naive-vs-IPS gap.

    ``loops`` maps a label to a ``policing_log.LoggedLoop``; the left panel draws the
    truth, the right one the gap the feedback-loop detector watches. ``epsilon`` is the
    loops' exploration share, removed from the policy to show the model's own view.
    """
    fig = _figure((9.0, 3.6))
    share_ax, gap_ax = fig.subplots(1, 2)
    for (label, loop), colour in zip(loops.items(), ("C3", "C0", "C2"), strict=False):
        generations = np.arange(len(loop.metrics))
        model_share = (loop.allocations[:, 0] - epsilon / 2) / (1 - epsilon)
        share_ax.plot(generations, model_share, color=colour, marker="o", label=label)
        gap_ax.plot(generations, loop.metrics["naive_ips_gap"], color=colour, marker="o",
                    label=label)
    share_ax.axhline(truth, color="k", linestyle="--", linewidth=1, label=f"truth {truth:.2f}")
    share_ax.set_xlabel("retraining generation")
    share_ax.set_ylabel("model's share of incidents in A")
    share_ax.legend(fontsize=8)
    gap_ax.set_xlabel("retraining generation")
    gap_ax.set_ylabel("naive-vs-IPS gap (½·Σ|c − ĉ|)")
    gap_ax.set_title("what the detector watches", fontsize=9)
    fig.suptitle("A retrained policing model with and without IPS-weighted retraining")
    return _save(fig, path)


def plot_learned_loop(loops: Mapping[str, Any], truth: float, stable: float, epsilon: float,
                      path: str | Path) -> Path:
    """The learned policing loop per retraining generation: the model's share of district A
    (left) with the truth lambda_A / sum(lambda) and the naive loop's stable point, and the
    share of patrols actually sent to A (right).

    ``loops`` maps a label to a ``policing_learned.LearnedLoop``; ``stable`` is
    ``policing_learned.naive_stable_point(...)[0]``, where naive retraining settles. On the
    right both lines are the allocations those shares give with ``epsilon`` exploration
    over two districts.
    """
    if not loops:
        raise ValueError("nothing to plot")
    fig = _figure((9.0, 3.6))
    share_ax, patrol_ax = fig.subplots(1, 2, sharey=True)
    for (label, loop), colour in zip(loops.items(), ("C3", "C0", "C2"), strict=False):
        lineage = loop.lineage
        share_ax.plot(lineage["generation"], lineage["model_share_A"], color=colour,
                      marker="o", label=label)
        patrol_ax.plot(lineage["generation"], lineage["patrol_share_A"], color=colour,
                       marker="o", label=label)
    for ax, mix in ((share_ax, 0.0), (patrol_ax, epsilon)):
        at_truth, at_stable = ((1 - mix) * x + mix / 2 for x in (truth, stable))
        ax.axhline(at_truth, color="k", linestyle="--", linewidth=1,
                   label=f"truth λ_A/Σλ = {truth:.2f}")
        ax.axhline(at_stable, color="grey", linestyle=":", linewidth=1,
                   label=f"naive loop's stable point {stable:.2f}")
        ax.set_xlabel("retraining generation")
        ax.set_ylim(0.4, 1.0)
    share_ax.set_ylabel("model's predicted share of incidents in A")
    patrol_ax.set_ylabel("share of patrols sent to A")
    share_ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("A learned (Lightning, Poisson) policing model retrained on its own patrols")
    return _save(fig, path)


def plot_lending_loop(histories: Mapping[str, Any], path: str | Path) -> Path:
    """The selective-labels lending loop per generation, one colour per arm: the applicants'
    >50K rate as the naive mean of the revealed labels (dashed) and its SNIPS estimate
    (solid, ±2 standard errors) against the truth (left); the approval rate per group
    (middle); the model's true accuracy on every applicant (solid) against its accuracy on
    the revealed labels only (dashed), the number a lender can see (right).

    ``histories`` maps an arm to ``lending_loop_metrics.arm_history(...)``.
    """
    if not histories:
        raise ValueError("nothing to plot")
    fig = _figure((13.0, 5.0))
    rate_ax, approve_ax, acc_ax = fig.subplots(1, 3)
    colours = ("C3", "C0", "C2", "C1", "C4")
    for (arm, h), colour in zip(histories.items(), colours, strict=False):
        gens = h.index.to_numpy()
        rate_ax.plot(gens, h["naive_rate"], color=colour, linestyle="--", marker="x",
                     label=f"{arm}: naive")
        rate_ax.errorbar(gens, h["snips_rate"], yerr=2 * h["snips_rate_se"], color=colour,
                         marker="o", capsize=2, label=f"{arm}: SNIPS")
        groups = sorted(c.removeprefix("approval_rate.") for c in h.columns
                        if c.startswith("approval_rate."))
        for group, style in zip(groups, ("-", ":", "-.", "--"), strict=False):
            approve_ax.plot(gens, h[f"approval_rate.{group}"], color=colour, linestyle=style,
                            marker="o", label=f"{arm}: {group}")
        acc_ax.plot(gens, h["true_accuracy"], color=colour, marker="o", label=f"{arm}: true")
        acc_ax.plot(gens, h["observed_accuracy"], color=colour, linestyle="--", marker="x",
                    label=f"{arm}: on revealed labels")
    first = next(iter(histories.values()))
    rate_ax.plot(first.index, first["true_rate"], color="k", linewidth=1.5,
                 label="truth (all applicants)")
    rate_ax.set_ylabel("applicants' >50K rate")
    rate_ax.set_ylim(0.0, 1.0)
    approve_ax.set_ylabel("approval rate")
    acc_ax.set_ylabel("accuracy")
    for ax, title in ((rate_ax, "naive vs IPS estimate of the rate"),
                      (approve_ax, "who gets approved"),
                      (acc_ax, "the selective-labels illusion")):
        ax.set_xlabel("generation")
        ax.set_title(title, fontsize=9)
        # Below the axes: inside, the legend hid the lines it names.
        ax.legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    fig.suptitle("Selective labels: a lender retrained on the outcomes its approvals revealed")
    return _save(fig, path)
