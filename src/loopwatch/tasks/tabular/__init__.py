"""Tabular classification (Adult census income by default): the data and its splits, the
embedding MLP, its predictor, and the training pipeline's stages.

Nothing is imported here; ``task.TabularTask`` is what the registry loads.
"""
