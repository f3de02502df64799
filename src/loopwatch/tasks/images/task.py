"""The image task as the registry sees it (entry point ``loopwatch.tasks: images``):
Fashion-MNIST or a folder of photos, a small CNN or fast.ai-style fine-tuning of a
pretrained EfficientNet-Lite0, interpretation (confusion, top losses) and the validation
embeddings that monitoring compares live traffic with."""

from __future__ import annotations

from typing import Any

import pandas as pd

from loopwatch.tasks.images.params import ImageParams

REFERENCE_ROWS = 1000  # validation images kept as the drift reference


class ImagesTask:
    name = "images"
    params_model = ImageParams
    sample_unit = "images"
    model_options = {"extra_packages": ("pillow", "efficientnet-lite-pytorch"),
                     "input_example": False}  # bytes: the signature holds the shape

    def load_splits(self, settings, params: ImageParams):
        from loopwatch.tasks.images.pipeline import load_splits

        return load_splits(settings, params)

    def describe(self, splits) -> dict[str, Any]:
        return {**{f"data.n_{k}": v for k, v in splits.sizes().items()},
                "data.classes": ",".join(splits.classes),
                "data.image_shape": "x".join(map(str, splits.train_x.shape[1:]))}

    def build(self, splits, params: ImageParams):
        from loopwatch.tasks.images.fit import build_images

        built = build_images(splits, params)
        built.samples = len(splits.train_y)
        return built

    def fit(self, built, params: ImageParams, callbacks: list) -> None:
        from loopwatch.tasks.images.fit import run_schedule

        run_schedule(built, params, callbacks)

    @staticmethod
    def epoch_extras(trainer, module) -> dict[str, float]:
        from loopwatch.tasks.images.fit import epoch_extras

        return epoch_extras(trainer, module)

    def predictor(self, built, splits):
        from loopwatch.tasks.images.predictor import ImagePredictor

        return ImagePredictor(built.state["config"], built.module.net, splits.classes,
                              raw_size=splits.train_x.shape[1])

    def evaluate(self, predictor, splits, params: ImageParams):
        from loopwatch.monitoring.frame import REFERENCE_ARTIFACT
        from loopwatch.tasks.images.interpret import (
            Interpretation,
            confusion_figure,
            top_losses_figure,
        )
        from loopwatch.tasks.images.pipeline import metric_key, reference_frame
        from loopwatch.training.run import Evaluation

        test = predictor.predict_pixels(splits.test_x)
        interp = Interpretation.from_proba(test.proba, splits.test_y, splits.classes)
        per_class = interp.per_class_accuracy()
        valid = predictor.predict_pixels(splits.valid_x)
        return Evaluation(
            metrics={**interp.metrics("test"),
                     **{f"test_accuracy.{metric_key(c)}": v for c, v in per_class.items()}},
            figures={"evaluation/confusion_matrix.png": confusion_figure(interp),
                     "evaluation/top_losses.png": top_losses_figure(interp, splits.test_x,
                                                                    params.top_losses)},
            documents={"evaluation/confusion_matrix.json": {
                           "classes": list(splits.classes),
                           "matrix": interp.confusion.tolist()},
                       "evaluation/per_class_accuracy.json": per_class,
                       "evaluation/most_confused.json": {
                           "most_confused": interp.most_confused()[:20]}},
            frames={REFERENCE_ARTIFACT: reference_frame(valid, splits.valid_y, splits.classes,
                                                        REFERENCE_ROWS, params.seed)})

    def example(self, splits) -> pd.DataFrame:
        from loopwatch.tasks.images.decode import encode_png

        return pd.DataFrame({"image": [encode_png(p) for p in splits.test_x[:2]]})

    def monitor_window(self, settings, window: str | None = None,
                       model_name: str | None = None, *, method: str = "model",
                       plot: bool = False) -> list[str]:
        """``loopwatch monitor --task images``: embedding + image-statistics drift of the
        window's served images against the training reference, as lines to show."""
        from loopwatch.tasks.images.monitoring import monitor_window

        out = monitor_window(settings, window or "1d", model_name, method=method, plot=plot)
        return [f"{out.rows} images", out.result.summary(), f"report: {out.report}"]

    def predict_file(self, settings, path, model_name: str | None = None):
        """``loopwatch predict IMAGE --task images``: class probabilities of one PNG/JPEG."""
        from loopwatch.tasks.images.monitoring import load_champion

        champion = load_champion(settings, model_name)
        proba = champion.predictor.predict_bytes([path.read_bytes()]).proba[0]
        return pd.DataFrame({"class": champion.predictor.classes, "probability": proba}
                            ).sort_values("probability", ascending=False, ignore_index=True)

    def mount(self, settings, *, seed: int | None = None):
        """``POST /predict/image`` and ``GET /model/image`` over the champion, hot-reloaded."""
        from loopwatch.serving.server import holder_for
        from loopwatch.tasks.images.routes import images_mount, load_image_version

        params = ImageParams.from_settings(settings)
        holder = holder_for(settings, params.model_name, load_image_version)
        return images_mount(holder, settings.params.serving, epsilon=params.epsilon, seed=seed)


def train(settings, params: ImageParams | None = None, splits=None, *, register: bool = True,
          log=print):
    """Train, interpret, log and register through the one training path."""
    from loopwatch.training.run import train_task

    return train_task(settings, ImagesTask(), params, splits=splits, register=register, log=log)
