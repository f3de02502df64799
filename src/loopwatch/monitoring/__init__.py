"""Monitoring of logged predictions: drift, quality, group fairness and the retraining policy.

Modules, by what they hold:

- ``frame``      the one monitoring frame every task's logged rows become
- ``results``    typed results shared by everything below (no heavy imports)
- ``drift``      the Evidently reports (its drift verdicts beside ours, quality, headlines)
- ``sketch``     mergeable per-column sketches (counts on reference-quantile bins)
- ``calibrated`` drift verdicts with a stated false-alarm rate and power, from the sketches
- ``fairness``   group fairness with fairlearn, bootstrap intervals, minimum group size
- ``prepare``    the column convention of a window's rows
- ``stream``     ``monitor_frames`` / ``monitor_stream``: a window in memory or in chunks
- ``report``     the HTML report writer
- ``tracking``   headline numbers to MLflow as a monitoring run, and the history back
- ``policy``     the pure retraining decision with hysteresis and cooldown
- ``workspace``  the Evidently workspace, dashboards as code, and the ``evidently ui`` process
- ``feedback_loop``  feedback-loop metrics per retraining generation (its own issue)
"""
