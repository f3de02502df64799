"""Image training throughput: our Lightning loop vs a bare PyTorch loop, same run.

Both train the same network (the small CNN by default, or EfficientNet-Lite0) on the
same Fashion-MNIST rows for the same epochs, with the same uint8 batches, the same
on-batch augmentation (``module.shift_flip``), channels-last layout, AdamW and
one-cycle schedule, and a validation pass per epoch. Lightning's side is
``images.fit.run_stage`` as training uses it. Runs alternate A/B/A/B so machine
drift (this CPU is shared) hits both; we print each pair's ratio and the median.
Also the loader alone (batches sliced from in-memory tensors, uint8 -> float,
augmentation): its images/s must dwarf training's, or the GPU/CPU would wait on it.
Target: Lightning / bare time <= 1.1.

    python bench/train_images.py [--arch small_cnn] [--rows 6000] [--epochs 2] [--repeats 2]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see runtime.embedded_env

import argparse  # noqa: E402
import copy  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from loopwatch.config import Settings  # noqa: E402
from loopwatch.tasks.images import data  # noqa: E402
from loopwatch.tasks.images.fit import make_loader, net_config, run_stage  # noqa: E402
from loopwatch.tasks.images.module import ImageClassifier, Stage, shift_flip  # noqa: E402
from loopwatch.tasks.images.nets import build_net  # noqa: E402
from loopwatch.tasks.images.params import ImageParams  # noqa: E402
from loopwatch.training.run import History  # noqa: E402

TARGET = 1.1


def load(rows: int, params: ImageParams) -> data.ImageSplits:
    # A cache copy, not data/: a benchmark must not change what DVC tracks.
    raw = Settings.load().cache_dir / "fashion-mnist-raw"
    data.fetch(raw, try_url=False, log=lambda m: None)
    return data.load(raw, params.valid_fraction, params.seed, subset=rows)


def fresh_net(template: torch.nn.Module) -> torch.nn.Module:
    return copy.deepcopy(template)  # same initial weights for both loops


def run_lightning(splits, params: ImageParams, net: torch.nn.Module) -> float:
    module = ImageClassifier(net, weight_decay=params.weight_decay, augment=params.augment,
                             max_shift=params.max_shift)
    train = make_loader(splits.train_x, splits.train_y, params.batch_size, shuffle=True)
    valid = make_loader(splits.valid_x, splits.valid_y, params.batch_size * 4, shuffle=False)
    lrs = (params.lr,) * len(net.param_groups())
    start = time.perf_counter()
    run_stage(module, Stage(params.max_epochs, lrs), train, valid, params, [History()])
    return time.perf_counter() - start


def run_bare(splits, params: ImageParams, net: torch.nn.Module) -> float:
    """The loop Lightning replaces: same data, augmentation, optimiser, schedule, metrics."""
    torch.manual_seed(params.seed)
    net = net.to(memory_format=torch.channels_last)
    train = make_loader(splits.train_x, splits.train_y, params.batch_size, shuffle=True)
    valid = make_loader(splits.valid_x, splits.valid_y, params.batch_size * 4, shuffle=False)
    groups = net.param_groups()
    start = time.perf_counter()
    opt = torch.optim.AdamW([{"params": g, "lr": params.lr} for g in groups],
                            weight_decay=params.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[params.lr] * len(groups),
                                                total_steps=params.max_epochs * len(train))
    for _ in range(params.max_epochs):
        net.train()
        for x, y in train:
            x = x.float().div_(255).contiguous(memory_format=torch.channels_last)
            if params.augment:
                x = shift_flip(x, params.max_shift, flip=True)
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        correct = n = 0
        with torch.inference_mode():
            for x, y in valid:
                x = x.float().div_(255).contiguous(memory_format=torch.channels_last)
                correct += int((net(x).argmax(1) == y).sum())
                n += len(y)
    return time.perf_counter() - start


def loader_throughput(splits, params: ImageParams, epochs: int = 3) -> float:
    train = make_loader(splits.train_x, splits.train_y, params.batch_size, shuffle=True)
    start, n = time.perf_counter(), 0
    for _ in range(epochs):
        for x, _y in train:
            x = shift_flip(x.float().div_(255).contiguous(memory_format=torch.channels_last),
                           params.max_shift, flip=params.augment)
            n += len(x)
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="small_cnn", choices=["small_cnn", "efficientnet_lite0"])
    ap.add_argument("--rows", type=int, default=6000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--input-size", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args(argv)
    size = args.input_size or (28 if args.arch == "small_cnn" else 32)
    params = ImageParams(arch=args.arch, input_size=size, max_epochs=args.epochs,
                         batch_size=args.batch_size, enable_progress_bar=False,
                         accelerator="cpu")
    splits = load(args.rows, params)
    torch.manual_seed(0)
    template = build_net(net_config(splits, params), pretrained=args.arch != "small_cnn")
    n_images = args.rows * args.epochs
    print(f"{args.arch} @ {size}px, {args.rows} rows x {args.epochs} epochs, batch "
          f"{params.batch_size}, {torch.get_num_threads()} threads, cpu")
    ratios = []
    for i in range(args.repeats):
        bare = run_bare(splits, params, fresh_net(template))
        ours = run_lightning(splits, params, fresh_net(template))
        ratios.append(ours / bare)
        print(f"  pair {i + 1}: bare {n_images / bare:7.0f} img/s, lightning "
              f"{n_images / ours:7.0f} img/s, ratio {ours / bare:.3f}")
    loader = loader_throughput(splits, params)
    ratio = statistics.median(ratios)
    print(f"loader alone (slice + float + augment): {loader:,.0f} img/s")
    print(f"lightning / bare time, median of {len(ratios)}: {ratio:.3f} "
          f"(target <= {TARGET}) -> {'OK' if ratio <= TARGET else 'OVER'}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
