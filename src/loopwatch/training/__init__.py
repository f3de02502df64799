"""Fit, evaluate, MLflow tracking, the model registry and the promotion rule."""
