"""Monitoring of logged predictions: drift, quality, group fairness and the retraining policy.

Modules, by what they hold:

- ``params``     thresholds and knobs: ``MonitoringParams``, params.yaml's ``monitoring:``
- ``results``    typed results shared by everything below (no heavy imports)
- ``drift``      the only module that runs Evidently reports (drift, prediction drift, quality)
- ``sketch``     mergeable per-column sketches: Evidently's large-sample drift tests over chunks
- ``guard``      the optional big-data guard: effect-size floor and Benjamini-Hochberg
- ``fairness``   group fairness with fairlearn, bootstrap intervals, minimum group size
- ``monitor``    ``monitor_frames``: a window in memory; the column convention
- ``stream``     ``monitor_stream``: a window in chunks, bounded memory
- ``report``     the HTML report writer
- ``tracking``   headline numbers to MLflow as a monitoring run, and the history back
- ``policy``     the pure retraining decision with hysteresis and cooldown
- ``workspace``  the Evidently workspace, dashboards as code, and the ``evidently ui`` process
- ``feedback_loop``  feedback-loop metrics per retraining generation (its own issue)
"""
