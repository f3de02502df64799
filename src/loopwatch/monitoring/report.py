"""The HTML report of one window: our tables, with Evidently's own reports alongside.

``index.html`` holds what Evidently cannot show (group fairness with intervals, drift per
sensitive group, what each window can detect, the decision) and embeds Evidently's drift and quality
reports, saved next to it with ``snapshot.save_html``. Self-contained: no network needed to
open it (Evidently inlines its scripts).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from loopwatch.monitoring.policy import Decision
from loopwatch.monitoring.results import ColumnDrift, MonitoringResult

STYLE = """body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;
margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}.bad{background:#fde2e1}.ok{background:#e3f6e5}
iframe{width:100%;height:70em;border:1px solid #ccc}"""


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _range(drift) -> str:
    found = drift.detectable_range() if drift else None
    return "–" if found is None else f"{found[0]:.2f}–{found[1]:.2f}"


def _table(header: list[str], rows: list[list[str]], flags: list[bool] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = "" if flags is None else (' class="bad"' if flags[i] else ' class="ok"')
        body.append(f"<tr{cls}>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _drift_table(columns: tuple[ColumnDrift, ...]) -> str:
    def evidently(c: ColumnDrift) -> str:
        if c.evidently_drifted is None:
            return "–"
        return (f"{'drift' if c.evidently_drifted else 'no drift'} "
                f"({c.evidently_method} {c.evidently_statistic:.3g})")

    rows = [[c.column, c.kind, c.method, f"{c.statistic:.3f}", _num(c.detectable),
             f"{c.test} {_num(c.p_adjusted, 4)}" if c.test else "–", c.verdict,
             evidently(c)] for c in columns]
    return _table(["column", "type", "effect size", "value", "smallest detectable",
                   "test: BH-adjusted p", "verdict", "Evidently (its default test)"], rows,
                  [c.drifted for c in columns])


def _drift_rule(d) -> str:
    dataset = "met" if d.dataset_drift else "not met"
    return (f"Share {d.share:.2f}. Dataset drift (≥ {d.drift_share_threshold:.2f} of the columns, "
            f"as Evidently calls it): {dataset}; the decision above follows the retraining "
            "policy's own thresholds, listed in its reasons. A column drifts when its test is "
            f"significant at {d.alpha:g} after Benjamini-Hochberg AND its effect size reaches "
            "the floor; where nothing changed this alarms at most "
            f"{d.alpha:.0%} of the time per column and per table. 'smallest detectable': the "
            "effect this window's size catches half the time.")


def render(result: MonitoringResult, decision: Decision | None = None,
           evidently_files: dict[str, str] | None = None) -> str:
    r, parts = result, []
    window = f"{r.window_start or '…'} → {r.window_end or '…'}"
    parts.append(f"<h1>Monitoring: {escape(r.model_name)} v{escape(r.model_version)}</h1>"
                 f"<p>window {escape(str(window))}; {r.n_rows} predictions, {r.n_labelled} "
                 f"labelled ({r.labelled_share:.1%}); path: {escape(r.mode)}</p>")
    if decision is not None:
        items = "".join(f"<li>{escape(x)}</li>" for x in decision.reasons)
        parts.append(f"<h2>Decision: {escape(decision.action)}</h2><p>by the retraining "
                     "policy (monitoring: in params.yaml), on the conditions below</p>"
                     f"<ul>{items}</ul>")
    d = r.drift
    parts.append(f"<h2>Data drift: {d.n_drifted} of {len(d.columns)} columns drifted</h2>"
                 f"<p>{escape(_drift_rule(d))}</p>" + _drift_table(d.columns))
    if r.prediction_drift:
        parts.append("<h2>Prediction drift</h2>" + _drift_table(r.prediction_drift))
    q = r.quality
    if q is not None:
        parts.append("<h2>Quality (labelled rows)</h2>" + _table(
            ["labelled", "used", "accuracy", "precision", "recall", "F1", "ROC AUC"],
            [[str(q.n_labelled), str(q.n_used), _num(q.accuracy), _num(q.precision),
              _num(q.recall), _num(q.f1), _num(q.roc_auc)]]))
    for f in r.fairness:
        parts.append(f"<h2>Group fairness: {escape(f.attribute)}</h2><p>groups under "
                     f"{f.min_group_size} rows are too small to score; intervals: "
                     f"{f.ci_level:.0%} stratified bootstrap, {f.n_boot} resamples</p>")
        parts.append(_table(
            ["group", "rows", "labelled", "selection rate", "TPR", "FPR", "accuracy", "note"],
            [[g.group, str(g.n), str(g.n_labelled), _num(g.selection_rate), _num(g.tpr),
              _num(g.fpr), _num(g.accuracy),
              "too small" if g.too_small else ("too few labels" if g.labels_too_small else "")]
             for g in f.groups]))
        parts.append(_table(
            ["gap", "value", "95% interval", "groups (favoured, other)", "note"],
            [[g.name, _num(g.value), f"[{_num(g.ci_low)}, {_num(g.ci_high)}]",
              " vs ".join(g.groups or ()), g.note] for g in f.gaps.values()]))
    if r.group_drift:
        parts.append("<h2>Drift per sensitive group</h2>" + _table(
            ["attribute", "group", "rows", "reference rows", "drift share", "drifted columns",
             "smallest detectable effect", "note"],
            [[g.attribute, g.group, str(g.n_current), str(g.n_reference),
              _num(g.drift.share if g.drift else None, 2),
              ", ".join(c.column for c in g.drift.columns if c.drifted) if g.drift else "",
              _range(g.drift), g.note] for g in r.group_drift],
            [bool(g.drift and g.drift.dataset_drift) for g in r.group_drift]))
    if r.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in r.notes)
                     + "</ul>")
    for kind, name in (evidently_files or {}).items():
        parts.append(f'<h2>Evidently {escape(kind)} report</h2><p><a href="{escape(name)}">'
                     f'open</a></p><iframe src="{escape(name)}" loading="lazy"></iframe>')
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>loopwatch monitoring"
            f"</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")


def write_html_report(result: MonitoringResult, out_dir: Path,
                      decision: Decision | None = None) -> Path:
    """Write ``out_dir/index.html`` and Evidently's reports beside it; returns the index."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind, snapshot in result.snapshots.items():
        name = f"evidently_{kind}.html"
        snapshot.save_html(str(out_dir / name))
        files[kind] = name
    index = out_dir / "index.html"
    index.write_text(render(result, decision, files), encoding="utf-8")
    return index
