"""`loopwatch deploy`'s deployments and the retrain trigger through `run_deployment`."""

import pytest

pytestmark = pytest.mark.slow  # the Prefect harness (shared, ~18 s to start once)


def test_deployments_carry_the_cron_schedules_from_params(tmp_path):
    from flows.deploy import deployments
    from tests.conftest import make_settings

    (tmp_path / "params.yaml").write_text(
        "deploy: {monitor_cron: '5 * * * *', retrain_check_cron: '0 4 * * *'}\n")
    settings = make_settings(tmp_path)
    by_name = {d.name: d for d in deployments(settings)}
    assert set(by_name) == {"loopwatch-monitor", "loopwatch-retrain-check", "loopwatch-retrain",
                            "loopwatch-train", "recommender-monitor", "recommender-train"}
    crons = {name: [s.schedule.cron for s in d.schedules] for name, d in by_name.items()}
    assert crons["loopwatch-monitor"] == ["5 * * * *"]
    assert crons["loopwatch-retrain-check"] == ["0 4 * * *"]
    assert crons["loopwatch-retrain"] == [] and crons["loopwatch-train"] == []
    assert crons["recommender-monitor"] == ["0 3 * * *"] and crons["recommender-train"] == []
    check = by_name["loopwatch-retrain-check"].parameters
    assert check["act"] is True and check["trigger"] == "deployment"
    assert by_name["loopwatch-monitor"].parameters["act"] is False


def test_the_deployment_trigger_schedules_a_retrain_flow_run(prefect_harness, tmp_path):
    """The retrain check's action: a flow run of the retrain deployment with the reason."""
    import asyncio

    from prefect import get_client

    from flows.deploy import deployments
    from flows.monitor import start_retrain
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    retrain = next(d for d in deployments(settings) if d.name == "loopwatch-retrain")
    deployment_id = retrain.apply()
    run_id = start_retrain(7, "dataset drift share 0.14: active 2 window(s) in a row",
                           "deployment", str(tmp_path))

    async def read():
        async with get_client() as client:
            return await client.read_flow_run(run_id)

    run = asyncio.run(read())
    assert run.deployment_id == deployment_id
    assert run.parameters["day"] == 7 and "drift" in run.parameters["reason"]
    assert run.state.is_scheduled()  # waits for the served deployment to pick it up
