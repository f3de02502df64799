"""Image networks, augmentation, learning-rate groups, the predictor's file form,
interpretation numbers, image statistics and the drifted-traffic generator."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import pytest
import torch

from loopwatch.tasks.images import stats, traffic
from loopwatch.tasks.images.decode import encode_png
from loopwatch.tasks.images.interpret import Interpretation, confusion_figure, top_losses_figure
from loopwatch.tasks.images.module import ImageClassifier, discriminative_lrs, shift_flip
from loopwatch.tasks.images.nets import NetConfig, build_net
from loopwatch.tasks.images.predictor import ImagePredictor


def small_config(**kw) -> NetConfig:
    return NetConfig(**{"arch": "small_cnn", "n_classes": 3, "in_channels": 1,
                        "input_size": 16, **kw})


def test_shift_flip_moves_pixels_but_keeps_the_batch_shape():
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 3:5, 3:5] = 1.0  # a centred square; a 2-px shift keeps it inside the frame
    same = shift_flip(x, 0, flip=False)
    assert torch.equal(same, x)
    out = shift_flip(x, 2, flip=True, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.allclose(out.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))  # nothing cut off
    moved = (out != x).flatten(1).any(dim=1)
    assert 0.5 < moved.float().mean() < 1.0  # most images moved, the unshifted ones did not


def test_discriminative_lrs_are_fastai_slices():
    assert discriminative_lrs(1e-3, 100, 3) == pytest.approx((1e-5, 1e-4, 1e-3))
    assert discriminative_lrs(1e-3, 100, 1) == (1e-3,)


def test_small_cnn_resizes_and_embeds():
    net = build_net(small_config(input_size=20)).eval()
    x = torch.rand(4, 1, 16, 16)
    assert net(x).shape == (4, 3)
    assert net.embed(x).shape == (4, 128)
    groups = net.param_groups()
    assert sum(len(g) for g in groups) == len(list(net.parameters()))


def test_efficientnet_gets_imagenet_weights_a_new_head_and_three_groups():
    from loopwatch.tasks.images.nets import imagenet_state_dict

    config = NetConfig("efficientnet_lite0", 5, 1, 32)
    net = build_net(config, pretrained=True).eval()
    weights = imagenet_state_dict()
    stem = net.backbone._conv_stem.weight
    assert torch.equal(stem, weights["_conv_stem.weight"])
    assert net(torch.rand(2, 1, 28, 28)).shape == (2, 5)  # grey 28 px in, resized inside
    assert net.embed(torch.rand(2, 1, 28, 28)).shape == (2, 1280)
    groups = net.param_groups()
    ids = [id(p) for g in groups for p in g]
    assert len(groups) == 3 and len(ids) == len(set(ids)) == len(list(net.parameters()))
    untrained = build_net(config, pretrained=False)
    assert not torch.equal(untrained.backbone._conv_stem.weight, stem)


def test_freezing_leaves_only_the_head_trainable():
    module = ImageClassifier(build_net(small_config()))
    module.freeze_body()
    trainable = {n for n, p in module.net.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("head.") for n in trainable)
    module.unfreeze()
    assert all(p.requires_grad for p in module.net.parameters())


def predictor(seed: int = 0) -> ImagePredictor:
    torch.manual_seed(seed)
    config = small_config()
    return ImagePredictor(config, build_net(config), ("a", "b", "c"), raw_size=16)


def test_predictor_round_trips_through_files_and_reads_png_bytes(tmp_path):
    pred = predictor()
    pixels = np.random.default_rng(1).integers(0, 255, (5, 16, 16), dtype=np.uint8)
    before = pred.predict_pixels(pixels)
    assert before.proba.shape == (5, 3) and np.allclose(before.proba.sum(axis=1), 1)
    loaded = ImagePredictor.load(pred.save(tmp_path / "m"))
    after = loaded.predict_pixels(pixels)
    assert np.allclose(before.proba, after.proba, atol=1e-6)
    assert np.allclose(before.embeddings, after.embeddings, atol=1e-5)
    pngs = [encode_png(p) for p in pixels]
    frame = loaded.predict_frame(pd.DataFrame({"image": pngs}))
    assert list(frame.columns) == ["label", "probability", "prob_a", "prob_b", "prob_c"]
    assert np.allclose(frame[["prob_a", "prob_b", "prob_c"]].to_numpy(), before.proba,
                       atol=1e-6)
    as_text = loaded.predict_frame(pd.DataFrame(
        {"image": [base64.b64encode(b).decode() for b in pngs]}))
    assert (as_text["label"] == frame["label"]).all()
    with pytest.raises(ValueError, match="column 'image'"):
        loaded.predict_frame(pd.DataFrame({"x": [1]}))


def test_interpretation_numbers_and_figures():
    proba = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    actual = np.array([0, 1, 1, 2])
    interp = Interpretation.from_proba(proba, actual, ("a", "b", "c"))
    assert interp.confusion.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert interp.metrics()["test_accuracy"] == pytest.approx(0.75)
    assert interp.per_class_accuracy() == {"a": 1.0, "b": 0.5, "c": 1.0}
    assert interp.top_losses(1).tolist() == [2]  # p(actual)=0.3: the worst
    assert interp.most_confused() == [("b", "a", 1)]
    pixels = np.zeros((4, 8, 8), dtype=np.uint8)
    for fig in (confusion_figure(interp), top_losses_figure(interp, pixels, k=3)):
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        assert buf.getvalue()[:4] == b"\x89PNG"
    titles = [ax.get_title() for ax in top_losses_figure(interp, pixels, k=3).axes
              if ax.get_title()]
    assert titles[0].startswith("a/b\n1.20 / 0.30")


def test_image_statistics_follow_what_they_name():
    rng = np.random.default_rng(0)
    sharp = (rng.random((3, 20, 20)) > 0.5).astype(np.uint8) * 255
    s = stats.image_stats(sharp)
    dark = stats.image_stats((sharp * 0.3).astype(np.uint8))
    assert (dark["brightness"] < s["brightness"]).all() and (dark["contrast"] < s["contrast"]).all()
    blurred = ((sharp[:, :-1, :-1].astype(float) + sharp[:, 1:, 1:]) / 2).astype(np.uint8)
    assert (stats.image_stats(blurred)["sharpness"] < s["sharpness"]).all()
    flat = stats.image_stats(np.full((1, 5, 5), 128, dtype=np.uint8))
    assert flat["contrast"][0] == 0 and flat["sharpness"][0] == 0
    rgb = stats.image_stats(np.full((2, 4, 4, 3), 255, dtype=np.uint8))
    assert np.allclose(rgb["brightness"], 1.0)


def test_drifted_traffic_is_darker_rotated_noisy_and_skewed():
    rng = np.random.default_rng(0)
    pixels = rng.integers(100, 200, (300, 12, 12), dtype=np.uint8)
    labels = np.arange(300) % 3
    clean, clean_y = traffic.traffic(pixels, labels, 600, None, seed=1)
    drifted, drifted_y = traffic.traffic(pixels, labels, 600, traffic.Drift.strong(3), seed=1)
    assert clean.mean() == pytest.approx(pixels.mean(), rel=0.05)
    assert drifted.mean() < 0.7 * clean.mean()
    assert np.bincount(drifted_y, minlength=3)[0] > 2 * np.bincount(drifted_y, minlength=3)[1]
    again, _ = traffic.traffic(pixels, labels, 600, traffic.Drift.strong(3), seed=1)
    assert np.array_equal(again, drifted)  # seeded
    rotated = traffic.apply(pixels[:5], traffic.Drift(rotate_deg=30),
                            np.random.default_rng(2))
    assert (rotated[:, 0, 0] == 0).any()  # rotation fills corners with black


# ImageNet-1k class indices of the cat classes (the standard synset order, as in timm's
# imagenet_synsets / torchvision's class list): 281 tabby, 282 tiger cat, 283 Persian,
# 284 Siamese, 285 Egyptian cat.
IMAGENET_CATS = {281, 282, 283, 284, 285}


def test_raw_pretrained_backbone_sees_a_cat_in_chelsea():
    """Model test on the shipped weights: the photo of Chelsea the cat gets a cat class in
    the top 5 (checked here: Egyptian cat, p ~0.8)."""
    data = pytest.importorskip("skimage.data")
    from loopwatch.tasks.images.nets import IMAGENET_MEAN, IMAGENET_STD, pretrained_lite0

    photo = torch.from_numpy(data.chelsea()).permute(2, 0, 1).float()[None] / 255
    x = torch.nn.functional.interpolate(photo, size=(224, 224), mode="bilinear",
                                        antialias=True, align_corners=False)
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        IMAGENET_STD).view(1, 3, 1, 1)
    with torch.inference_mode():
        proba = torch.softmax(pretrained_lite0(224)(x), dim=1)[0]
    top5 = set(proba.topk(5).indices.tolist())
    assert top5 & IMAGENET_CATS, f"top-5 {sorted(top5)} holds no cat class"
    assert int(proba.argmax()) in IMAGENET_CATS and proba[sorted(IMAGENET_CATS)].sum() > 0.5


def test_training_loader_never_ends_on_a_single_image_batch():
    from loopwatch.tasks.images.fit import make_loader

    x, y = np.zeros((9, 4, 4), dtype=np.uint8), np.arange(9)
    assert [len(b[1]) for b in make_loader(x, y, 4, shuffle=True)] == [4, 4]  # BatchNorm-safe
    assert [len(b[1]) for b in make_loader(x, y, 4, shuffle=False)] == [4, 4, 1]  # all scored
    xb, _ = next(iter(make_loader(x, y, 4, shuffle=False)))
    assert xb.dtype == torch.uint8 and xb.shape == (4, 1, 4, 4)
