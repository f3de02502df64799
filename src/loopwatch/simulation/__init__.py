"""Feedback-loop worlds: small simulators that reproduce published runaway loops.

Why: they show each loop with and without its mitigation and double as the
acceptance tests of the feedback-loop detector (the papers' published figures). Importing
this package runs nothing; matplotlib is imported only inside the plot functions.
"""
