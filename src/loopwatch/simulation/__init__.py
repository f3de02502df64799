"""Feedback-loop worlds: small simulators that reproduce published runaway loops.

Why: they show each loop with and without its mitigation and double as the
acceptance tests of the feedback-loop detector (the papers' published figures). Importing
this package runs nothing; matplotlib is imported only inside the plot functions.
"""

from loopwatch.simulation.attention import (
    Agent,
    AttentionConfig,
    AttentionResult,
    censored_poisson_mle,
    paper_agents,
    simulate_attention,
    sweep_dynamic_rate,
)
from loopwatch.simulation.plots import plot_attention_delta, plot_urn_share
from loopwatch.simulation.policing import (
    UrnConfig,
    UrnResult,
    record_schedule,
    simulate_urn,
    stable_point,
)
from loopwatch.simulation.policing_reference import simulate_urn_reference

__all__ = [
    "Agent",
    "AttentionConfig",
    "AttentionResult",
    "UrnConfig",
    "UrnResult",
    "censored_poisson_mle",
    "paper_agents",
    "plot_attention_delta",
    "plot_urn_share",
    "record_schedule",
    "simulate_attention",
    "simulate_urn",
    "simulate_urn_reference",
    "stable_point",
    "sweep_dynamic_rate",
]
