"""Collaborative filtering on MovieLens-100k and the recommender feedback loop.

- ``data``        MovieLens-100k from GroupLens, else from the recbole wheel; the seeded split
- ``model``       Lightning modules: dot product with biases (fastai's collab) and a neural one
- ``fit``         training, id encoding, baselines and the ``CollabPredictor`` (top-k)
- ``pyfunc``      the MLflow model format (``movielens-collab``)
- ``pipeline``    fetch / train + register / recommend, what the CLI calls
- ``loop``        the retraining loop: users consume from top-k + ε exploration, with provenance
- ``experiment``  runs the loop arms, logs per-generation metrics, plot, snapshots and alert
- ``cli``         ``loopwatch recsys ...`` and ``loopwatch recommend USER``

Nothing here does work at import time; torch, Lightning and MLflow are imported where used.
"""
