"""`loopwatch deploy`: serve the flows as Prefect deployments with cron schedules.

    python -m flows.deploy        (or: loopwatch deploy)

For users who run a Prefect server (`prefect server start`, then
`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`); without one, Prefect
starts its embedded server for as long as this process runs. Schedules come from the
``deploy:`` section of params.yaml:

- ``loopwatch-monitor``: hourly, monitors the last hour of the prediction log (reports,
  snapshots, MLflow run; alerts only: ``act`` off);
- ``loopwatch-retrain-check``: daily, monitors the last day and, when the policy says
  retrain, starts ``loopwatch-retrain`` with `run_deployment`;
- ``loopwatch-retrain`` and ``loopwatch-train``: no schedule, started by the check or by hand
  (`prefect deployment run retrain/loopwatch-retrain`);
- ``recommender-monitor``: daily, the served recommender's loop from the prediction log;
  ``recommender-train``: by hand (fetch, train, register, simulate the loop).
"""

from __future__ import annotations

from prefect import serve
from prefect.schedules import Cron

from flows.monitor import RETRAIN_DEPLOYMENT, monitor
from flows.recommender import recommender_monitor, recommender_train
from flows.retrain import retrain
from flows.train import train_pipeline
from loopwatch.config import Settings


def deployments(settings: Settings) -> list:
    d = settings.params.deploy
    root = str(settings.root)
    return [
        monitor.to_deployment(
            name="loopwatch-monitor", schedules=[Cron(d.monitor_cron, timezone=d.timezone)],
            parameters={"window": d.monitor_window, "act": False, "root": root},
            description="Monitor the last hour of served predictions; report and alert."),
        monitor.to_deployment(
            name="loopwatch-retrain-check",
            schedules=[Cron(d.retrain_check_cron, timezone=d.timezone)],
            parameters={"window": d.retrain_check_window, "act": True,
                        "trigger": "deployment", "root": root},
            description="Monitor the last day; start the retrain deployment if the policy "
                        "says so."),
        retrain.to_deployment(name=RETRAIN_DEPLOYMENT.split("/")[1], parameters={"root": root},
                              description="Train a challenger on the newest data; gate it."),
        train_pipeline.to_deployment(name="loopwatch-train", parameters={"root": root},
                                     description="Ingest, train, evaluate, register."),
        recommender_monitor.to_deployment(
            name="recommender-monitor",
            schedules=[Cron(d.recommender_monitor_cron, timezone=d.timezone)],
            parameters={"window": d.recommender_monitor_window, "root": root},
            description="The served recommender's loop over the last day of logged slates."),
        recommender_train.to_deployment(
            name="recommender-train", parameters={"root": root},
            description="Fetch MovieLens, train and register the recommender, simulate its "
                        "loop."),
    ]


if __name__ == "__main__":
    settings = Settings.load()
    print(f"serving {len(deployments(settings))} deployments; Ctrl-C to stop")
    serve(*deployments(settings))
