"""Image classification: Fashion-MNIST or a folder of photos, a small CNN or a pretrained
EfficientNet-Lite0, fast.ai-style fine-tuning under Lightning, MLflow pyfunc, serving
helpers and image statistics for monitoring.

Nothing is imported here: ``loopwatch.config`` imports ``images.params`` and must stay
light (no torch at settings-load time).
"""
