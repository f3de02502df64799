"""Image commands: `loopwatch images fetch|train|serve|monitor|drift-demo`, added to the
main CLI by ``add_commands`` (`loopwatch predict IMAGE` lives with the serving commands).

A few lines each over ``loopwatch.tasks.images``; heavy imports stay inside the commands.
``OMP_WAIT_POLICY=PASSIVE`` is set before torch loads by the main CLI's callback
(``runtime.apply_embedded_env``), which runs before every command.
"""

from __future__ import annotations

from pathlib import Path

import typer

LABEL_FNS = ("folder", "is_cat")


def _params(settings, **overrides):
    from loopwatch.tasks.images.params import ImageParams

    return ImageParams.from_settings(settings, **{k: v for k, v in overrides.items()
                                                  if v is not None})


def add_commands(app: typer.Typer) -> None:
    """Register `images ...` on the main Typer app."""
    from loopwatch.cli_common import console, load_settings, run_step

    images = typer.Typer(help="Image classification: Fashion-MNIST or your own photos.",
                         no_args_is_help=True)
    app.add_typer(images, name="images")

    @images.command("fetch")
    def fetch(
        offline: bool = typer.Option(False, help="Skip the zalandoresearch URLs; use the "
                                     "Debian package's files."),
        no_version: bool = typer.Option(False, help="Fetch only; do not `dvc add` / push."),
    ) -> None:
        """Fetch Fashion-MNIST into data/raw/fashion-mnist (sha256-checked), version with DVC."""
        from loopwatch.tasks.images import pipeline

        run_step(pipeline.fetch, load_settings(), try_url=not offline, version=not no_version,
                 log=console.print)

    @images.command("train")
    def train(
        arch: str = typer.Option(None, help="small_cnn | efficientnet_lite0 (default: "
                                 "params.yaml tasks.images.arch)."),
        epochs: int = typer.Option(None, help="Epochs (unfrozen epochs when fine-tuning)."),
        freeze_epochs: int = typer.Option(None, help="Head-only epochs before unfreezing."),
        input_size: int = typer.Option(None, help="Pixels the network sees."),
        lr: float = typer.Option(None, help="Peak learning rate."),
        lr_ratio: float = typer.Option(None, help="Fine-tuning: head lr / stem lr."),
        batch_size: int = typer.Option(None, help="Images per batch."),
        subset: int = typer.Option(None, help="Use only this many training images."),
        folder: Path = typer.Option(None, help="Train on a folder of photos instead."),
        label_fn: str = typer.Option("folder", help="With --folder: 'folder' (a folder per "
                                     "class) or 'is_cat' (capitalised file name = cat)."),
        register: bool = typer.Option(True, help="Register the model; champion on merit."),
    ) -> None:
        """Train (fine-tune a pretrained backbone, or a small CNN), log to MLflow, register."""
        from loopwatch.tasks.images import folder as folders
        from loopwatch.tasks.images import pipeline
        from loopwatch.tasks.images.task import train as train_images

        settings = load_settings()
        params = run_step(_params, settings, arch=arch, max_epochs=epochs,
                          freeze_epochs=freeze_epochs,
                         input_size=input_size, lr=lr, lr_ratio=lr_ratio,
                         batch_size=batch_size, train_subset=subset)
        if label_fn not in LABEL_FNS:
            raise typer.BadParameter(f"--label-fn must be one of {LABEL_FNS}")
        fn = folders.is_cat_label if label_fn == "is_cat" else folders.label_from_folder
        splits = run_step(pipeline.load_splits, settings, params, folder, fn)
        out = run_step(train_images, settings, params, splits, register=register,
                       log=console.print)
        typer.echo(f"run {out.run_id}: test accuracy {out.metrics['test_accuracy']:.4f}, "
                   f"{out.metrics['train_seconds']:.0f} s training"
                   + (f"; registered {params.model_name}/{out.version}" if out.version else ""))

    @images.command("serve")
    def serve(
        host: str = typer.Option(None, help="Interface (default: serving.host)."),
        port: int = typer.Option(None, help="Port (default: serving.port)."),
    ) -> None:
        """Serve the image champion: POST /predict/image (PNG/JPEG), logged like tabular
        (the same as `loopwatch serve --task images`)."""
        from loopwatch.serving.server import serve as run_server
        from loopwatch.tasks.images.task import ImagesTask

        run_step(run_server, load_settings(), [ImagesTask()], required=["images"], host=host,
                 port=port, log=console.print)

    @images.command("monitor")
    def monitor(
        window: str = typer.Option("1d", help="How far back to read the log (30m, 6h, 1d)."),
        model: str = typer.Option(None, help="Registered image model."),
        method: str = typer.Option("model", help="Embedding drift: model | mmd | ratio | "
                                   "distance (Evidently's methods)."),
        plot: bool = typer.Option(False, help="Add Evidently's embedding plot (a slow t-SNE)."),
    ) -> None:
        """Embedding + image-statistics drift of served images against the training reference."""
        from loopwatch.tasks.images.task import ImagesTask

        typer.echo("\n".join(run_step(ImagesTask().monitor_window, load_settings(), window,
                                      model, method=method, plot=plot)))

    @images.command("drift-demo")
    def drift_demo(
        n: int = typer.Option(300, help="Images per batch (clean, then drifted)."),
        seed: int = typer.Option(0, help="Seed of the traffic generator."),
        model: str = typer.Option(None, help="Registered image model."),
    ) -> None:
        """Clean vs drifted test images (darker, rotated, noisy) through champion + log + drift."""
        from loopwatch.tasks.images.monitoring import drift_demo as run_demo

        for out in run_step(run_demo, load_settings(), n, seed, model, log=console.print):
            typer.echo(f"{out.label}: drift {'YES' if out.result.drift else 'no'} "
                       f"(embedding score {out.result.embedding_score:.3f}; columns "
                       f"{out.result.drifted_columns}); report {out.report}")
