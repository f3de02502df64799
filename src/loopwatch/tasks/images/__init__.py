"""Image classification: Fashion-MNIST or a folder of photos, a small CNN or a pretrained
EfficientNet-Lite0, fast.ai-style fine-tuning under Lightning, MLflow pyfunc, serving
helpers and image statistics for monitoring.

Nothing is imported here: the registry loads ``task.ImagesTask`` (and so ``params``) at
CLI start-up, which must stay light (no torch).
"""
