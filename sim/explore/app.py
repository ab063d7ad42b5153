"""The explorer's web app (Dash): the form, arms running in the background, their comparison,
one replication up close.

Dash (Plotly) because it serves its own JavaScript and Plotly.js from the installed package
(nothing from a CDN: the page works with no internet), its callbacks keep the app plain Python
with no front-end build, pattern-matching ids let a form generated at run time be read back
whole, and Plotly's charts are interactive (zoom a survival curve, hover a band). Everything
here is presentation: the form comes from :mod:`sim.explore.form`, runs from
:mod:`sim.explore.arms`, statistics from :mod:`sim.outputs`.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

from sim.explore import form as F
from sim.explore.arms import COMPLETE, Arm, ArmRunner

#: How often the page asks for progress (ms).
POLL_MS = 700

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #222; }
.top { background: #1f3b57; color: white; padding: 8px 16px; }
.top h1 { font-size: 20px; margin: 0; display: inline; }
.top span { margin-left: 16px; opacity: .8; font-size: 13px; }
.main { display: flex; gap: 12px; padding: 8px; }
.form { width: 430px; flex: none; max-height: calc(100vh - 60px); overflow-y: auto; }
.results { flex: 1; min-width: 0; }
details { border: 1px solid #ddd; border-radius: 4px; margin: 4px 0; padding: 2px 6px; }
summary { cursor: pointer; font-weight: 600; }
.row { display: grid; grid-template-columns: 150px 1fr; gap: 4px; margin: 3px 0;
       align-items: center; }
.row label { font-size: 13px; overflow-wrap: anywhere; }
.row input { width: 95%; }
.hint { grid-column: 2; font-size: 11px; color: #666; }
.err { grid-column: 1 / 3; color: #b00020; font-size: 12px; }
.formerr { color: #b00020; font-size: 13px; margin: 4px 0; }
.bar { display: flex; gap: 6px; align-items: center; margin: 6px 0; }
progress { width: 100%; height: 14px; }
pre { white-space: pre-wrap; background: #f5f5f5; padding: 6px; font-size: 12px; }
table.t { border-collapse: collapse; font-size: 12px; }
table.t td, table.t th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
"""


def _fmt_hours(h: float | None) -> str:
    if h is None or (isinstance(h, float) and math.isnan(h)):
        return "-"
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 48:
        return f"{h:.1f} h"
    if h < 24 * 60:
        return f"{h / 24:.1f} d"
    return f"{h / 730.5:.1f} mo"


# ============================================================================ form widgets
def group_widgets(form: F.Form, removed: list[str]) -> list[Any]:
    from dash import dcc, html

    out = []
    for g in form.groups:
        options = [{"label": o, "value": o} for o in g.options]
        if g.default is None:
            options.insert(0, {"label": F.NONE_OPTION, "value": F.NONE_OPTION})
        row = [html.Label(g.key, htmlFor=f"g-{g.key}"),
               dcc.Dropdown(id={"type": "group", "key": g.key}, options=options,
                            value=g.default or F.NONE_OPTION, clearable=False)]
        if g.package:
            row.append(dcc.Checklist(id={"type": "on", "key": g.package},
                                     options=[{"label": " on", "value": "on"}],
                                     value=[] if g.package in removed else ["on"],
                                     className="hint"))
        out.append(html.Div(row, className="row"))
    for name in removed:
        out.append(html.Div([html.Label(name), dcc.Checklist(
            id={"type": "on", "key": name}, options=[{"label": " on", "value": "on"}],
            value=[], className="hint")], className="row"))
    for group, options in form.addable.items():
        out.append(html.Div([
            dcc.Input(id={"type": "add-name", "key": group}, placeholder="new name",
                      debounce=True, style={"width": "120px"}),
            dcc.Dropdown(id={"type": "add-option", "key": group}, value=options[0],
                         options=list(options), clearable=False, style={"width": "190px"}),
            html.Button(f"add {group}", id={"type": "add", "key": group}),
        ], className="bar"))
    return out


def field_widgets(form: F.Form, values: dict[str, str]) -> list[Any]:
    from dash import dcc, html

    out = []
    for section, keys in form.sections.items():
        rows = []
        for key in keys:
            f = form.fields[key]
            hint = "; ".join(p for p in (f.allowed(), f.doc) if p)
            rows.append(html.Div([
                html.Label(f.name, htmlFor=key, title=key),
                dcc.Input(id={"type": "field", "key": key}, value=values.get(key, f.default),
                          debounce=True, type="text", spellCheck=False),
                html.Div(hint, className="hint"),
                html.Div(id={"type": "err", "key": key}, className="err"),
            ], className="row"))
        title = section or "run"
        out.append(html.Details([html.Summary(title), *rows],
                                open=section in ("", "triage") or section.startswith("detectors"),
                                id=f"section-{title}"))
    return out


# ============================================================================ figures
def survival_figure(arms: list[Arm]) -> Any:
    """Kaplan-Meier curves of the arms with their 95% bands (sim.outputs.stats)."""
    import numpy as np
    import plotly.graph_objects as go

    from sim.outputs.stats import kaplan_meier

    fig = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
               "#17becf"]
    for i, arm in enumerate(arms):
        rows = arm.rows()
        if not rows:
            continue
        km = kaplan_meier(np.array([r.dwell_hours for r in rows]),
                          np.array([r.detected for r in rows]))
        color = palette[i % len(palette)]
        # S = 1 before the first detection, survival[i] from times[i] on, up to max_time;
        # drawn as steps (hv) on a log axis that starts a decade before the first time
        first = km.times[0] if len(km.times) else km.max_time
        x = np.concatenate([[max(first, 1e-3) / 10], km.times, [km.max_time]])
        s = np.concatenate([[1.0], km.survival, km.survival[-1:] if len(km.times) else [1.0]])
        lo = np.concatenate([[1.0], km.lower, km.lower[-1:] if len(km.times) else [1.0]])
        hi = np.concatenate([[1.0], km.upper, km.upper[-1:] if len(km.times) else [1.0]])
        name = f"{arm.id}: {arm.label} ({len(rows)})"
        fig.add_trace(go.Scatter(x=x, y=lo, mode="lines", line={"width": 0, "shape": "hv"},
                                 hoverinfo="skip", showlegend=False, legendgroup=name))
        fig.add_trace(go.Scatter(x=x, y=hi, mode="lines", line={"width": 0, "shape": "hv"},
                                 fill="tonexty", fillcolor=_rgba(color, 0.18),
                                 hoverinfo="skip", showlegend=False, legendgroup=name))
        fig.add_trace(go.Scatter(x=x, y=s, mode="lines", name=name, legendgroup=name,
                                 line={"color": color, "shape": "hv"}))
    fig.update_layout(xaxis={"type": "log", "title": "hours since the first access "
                                                     "(log; 24 = a day, 730 = a month)"},
                      yaxis={"title": "P(still undetected)", "range": [0, 1.02]},
                      margin={"l": 50, "r": 10, "t": 30, "b": 40}, height=360,
                      title="Survival of the insider (Kaplan-Meier, 95% band)",
                      legend={"orientation": "h", "y": -0.25})
    return fig


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def arm_figures(arm: Arm) -> Any:
    """Dwell histogram, records taken and who detected, for one arm."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = arm.rows()
    fig = make_subplots(rows=1, cols=3, subplot_titles=(
        "dwell of detected (log10 hours)", "records taken (log10)", "who detected"))
    dwell = [math.log10(max(r.dwell_hours, 1e-3)) for r in rows if r.detected]
    records = [math.log10(max(r.records_exfiltrated, 1)) for r in rows]
    fig.add_trace(go.Histogram(x=dwell, nbinsx=30, name="dwell"), row=1, col=1)
    fig.add_trace(go.Histogram(x=records, nbinsx=30, name="records"), row=1, col=2)
    who: dict[str, int] = {}
    for r in rows:
        key = r.detected_by or "undetected"
        who[key] = who.get(key, 0) + 1
    names = sorted(who)
    fig.add_trace(go.Bar(x=names, y=[who[n] for n in names], name="detected by"), row=1, col=3)
    fig.update_layout(showlegend=False, height=260, margin={"l": 40, "r": 10, "t": 40, "b": 40},
                      title=f"arm {arm.id}: {arm.label} - {len(rows)} of {arm.replications} "
                            f"replications")
    return fig


def arms_table(arms: list[Arm]) -> Any:
    """One row per arm: status, progress and the summary's numbers (sim.outputs.results)."""
    from dash import html

    from sim.outputs.results import summarize

    head = ["arm", "status", "done", "detected", "KM median dwell (95% CI)", "median records",
            "detected by"]
    body = []
    for arm in arms:
        rows = arm.rows()
        cells: list[Any] = [f"{arm.id}: {arm.label}", arm.status + (f": {arm.error}"
                                                                     if arm.error else ""),
                            f"{len(rows)}/{arm.replications}"]
        if rows:
            s = arm.summary() if arm.status == COMPLETE else None
            s = s or summarize(rows, arm.horizon)
            ci = s.get("detected_fraction_ci95") or [math.nan, math.nan]
            cells.append(f"{s['detected_fraction'] * 100:.1f}% [{ci[0] * 100:.1f}, "
                         f"{ci[1] * 100:.1f}]")
            kci = s.get("km_median_ci95") or [None, None]
            cells.append(f"{_fmt_hours(s.get('km_median_dwell_hours'))} ("
                         f"{_fmt_hours(kci[0])}-{_fmt_hours(kci[1])})")
            rec = (s.get("records_exfiltrated") or {}).get("median")
            cells.append("-" if rec is None else f"{rec:,.0f}")
            cells.append(", ".join(f"{k} {v}" for k, v in sorted(s.get("detected_by",
                                                                        {}).items())))
        else:
            cells += ["-"] * 4
        body.append(html.Tr([html.Td(c) for c in cells]))
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
                      className="t", id="arms-table")


# ============================================================================ the app
def create_app(runner: ArmRunner, start: list[str] | None = None) -> Any:
    """The Dash app over ``runner`` (arms) with the form composed from ``start`` overrides."""
    import dash
    from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
    from dash.exceptions import PreventUpdate

    app = dash.Dash(__name__, title="insider-sim explorer", serve_locally=True,
                    update_title=None)
    app.index_string = app.index_string.replace("{%css%}", "{%css%}<style>" + STYLE +
                                                "</style>")
    first = F.build_form(start or [])
    initial = {"groups": {g.key: g.default for g in first.groups}, "removed": [], "added": {}}

    app.layout = html.Div([
        html.Div([html.H1("insider-sim explorer"),
                  html.Span("pick controls, run arms, compare; every arm is a python -m sim "
                            "command")], className="top"),
        dcc.Store(id="selection", data=initial),
        dcc.Interval(id="poll", interval=POLL_MS),
        html.Div([
            html.Div([
                html.Div(group_widgets(first, []), id="groups"),
                html.Div(field_widgets(first, {}), id="fields"),
            ], className="form"),
            html.Div([
                html.Div([dcc.Input(id="label", placeholder="arm label", debounce=False),
                          html.Button("Run", id="run"), html.Button("Cancel", id="cancel")],
                         className="bar"),
                html.Div(id="form-error", className="formerr"),
                html.Progress(id="progress", value="0", max="1"),
                html.Div(id="progress-text", style={"fontSize": "12px"}),
                dcc.Tabs([
                    dcc.Tab(label="Arms", children=[
                        dcc.Graph(id="survival", figure=survival_figure([])),
                        html.Div(id="table"),
                        dcc.Graph(id="arm-figures", style={"display": "none"}),
                    ]),
                    dcc.Tab(label="Command and files", children=[
                        html.P("Each arm at a terminal: the same command writes the same "
                               "replications.csv, byte for byte."),
                        html.Div(id="exports"),
                        html.H4("the form as it stands"),
                        html.Pre(id="preview"),
                    ]),
                    dcc.Tab(label="One replication", children=[
                        html.Div(["arm: ", dcc.Input(id="trace-arm", value="1", type="text",
                                                     style={"width": "50px"}),
                                  " replication: ",
                                  dcc.Input(id="trace-rep", value="0", type="text",
                                            style={"width": "60px"}),
                                  html.Button("show", id="trace-show")], className="bar"),
                        dcc.Loading(html.Div(id="trace-view")),
                    ]),
                ]),
            ], className="results"),
        ], className="main"),
        html.Div(id="version", style={"display": "none"}, children="0"),
    ])

    def selection_from(sel: dict[str, Any], values: dict[str, str]) -> F.Selection:
        return F.Selection(groups=dict(sel["groups"]), values=values,
                           removed=list(sel["removed"]),
                           added={k: tuple(v) for k, v in sel["added"].items()})

    def field_values() -> dict[str, str]:
        return {i["id"]["key"]: i["value"] for i in ctx.states_list[0]} \
            if ctx.states_list else {}

    # ---- group choices -> the selection ----------------------------------------------------
    @app.callback(Output("selection", "data"), Output("form-error", "children",
                                                      allow_duplicate=True),
                  Input({"type": "group", "key": ALL}, "value"),
                  Input({"type": "on", "key": ALL}, "value"),
                  Input({"type": "add", "key": ALL}, "n_clicks"),
                  State({"type": "add-name", "key": ALL}, "value"),
                  State({"type": "add-option", "key": ALL}, "value"),
                  State("selection", "data"), prevent_initial_call=True)
    def choose(groups, ons, _adds, names, options, sel):
        trig = ctx.triggered_id
        new = json.loads(json.dumps(sel))
        if isinstance(trig, dict) and trig.get("type") == "group":
            for item in ctx.inputs_list[0]:
                new["groups"][item["id"]["key"]] = item.get("value")
            if trig["key"] == "scenario":  # a new scenario: its own defaults for the rest
                new = {"groups": {"scenario": new["groups"]["scenario"]}, "removed": [],
                       "added": {}}
        elif isinstance(trig, dict) and trig.get("type") == "on":
            for item in ctx.inputs_list[1]:
                key, on = item["id"]["key"], bool(item.get("value"))
                if not on and key not in new["removed"]:
                    if key in new["added"]:
                        del new["added"][key]
                    else:
                        new["removed"].append(key)
                elif on and key in new["removed"]:
                    new["removed"].remove(key)
        elif isinstance(trig, dict) and trig.get("type") == "add":
            group = trig["key"]
            i = [s["id"]["key"] for s in ctx.states_list[0]].index(group)
            name, option = (names[i] or "").strip(), options[i]
            package = f"{group}s.{name}" if not name.startswith(f"{group}s.") else name
            try:
                F.group_overrides(F.Selection(added={package: (group, option)}))
            except F.ConfigError as err:
                return no_update, str(err)
            new["added"][package] = [group, option]
        if new == sel:
            raise PreventUpdate
        try:
            F.to_overrides(selection_from(new, {}))
            base = F.group_overrides(selection_from(new, {}))
            F.build_form(base)
        except F.SimError as err:
            return no_update, str(err)
        return new, ""

    # ---- the selection -> the form ---------------------------------------------------------
    @app.callback(Output("groups", "children"), Output("fields", "children"),
                  Input("selection", "data"),
                  State({"type": "field", "key": ALL}, "value"), prevent_initial_call=True)
    def render_form(sel, _values):
        values = field_values()
        base = F.group_overrides(selection_from(sel, {}))
        form = F.build_form(base)
        # an edited value survives a change of options where its field still exists
        kept = {k: v for k, v in values.items() if k in form.fields}
        return group_widgets(form, sel["removed"]), field_widgets(form, kept)

    # ---- validation on every edit ----------------------------------------------------------
    @app.callback(Output({"type": "err", "key": ALL}, "children"),
                  Output("form-error", "children"), Output("preview", "children"),
                  Input({"type": "field", "key": ALL}, "value"), State("selection", "data"))
    def check(_values, sel):
        values = {i["id"]["key"]: i["value"] for i in ctx.inputs_list[0]}
        keys = [i["id"]["key"] for i in ctx.outputs_list[0]]
        problem, overrides = _problem(sel, values)
        errs = ["" for _ in keys]
        general = ""
        if problem is not None:
            if problem.field in keys:
                errs[keys.index(problem.field)] = problem.message
            else:
                general = problem.message
        preview = F.command(overrides) if overrides is not None else ""
        return errs, general, preview

    def _problem(sel: dict[str, Any], values: dict[str, str]
                 ) -> tuple[F.Problem | None, list[str] | None]:
        try:
            overrides, form = F.to_overrides(selection_from(sel, values))
        except F.SimError as err:
            key = getattr(err, "key", "")
            return F.Problem(F.field_of(key, values), str(err)), None
        return F.validate(overrides, form), overrides

    # ---- run and cancel --------------------------------------------------------------------
    @app.callback(Output("version", "children"),
                  Output({"type": "err", "key": ALL}, "children", allow_duplicate=True),
                  Output("form-error", "children", allow_duplicate=True),
                  Input("run", "n_clicks"), State({"type": "field", "key": ALL}, "value"),
                  State("selection", "data"), State("label", "value"),
                  prevent_initial_call=True)
    def run(_n, _values, sel, label):
        values = {i["id"]["key"]: i["value"] for i in ctx.states_list[0]}
        keys = [i["id"]["key"] for i in ctx.outputs_list[1]]
        problem, overrides = _problem(sel, values)
        errs = ["" for _ in keys]
        if problem is not None or overrides is None:
            assert problem is not None
            if problem.field in keys:
                errs[keys.index(problem.field)] = problem.message
                return no_update, errs, "not run: fix the value marked below"
            return no_update, errs, problem.message
        from hydra import compose, initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra

        from sim.cli.app import plain_config

        GlobalHydra.instance().clear()
        try:
            with initialize_config_dir(str(F.conf_dir()), version_base="1.3"):
                cfg = plain_config(compose("config", overrides=overrides))
        finally:
            GlobalHydra.instance().clear()
        from sim.core.timeunits import parse_duration

        horizon = parse_duration(cfg["horizon"], "horizon")
        arm = runner.submit(label or f"arm {len(runner.arms) + 1}", overrides,
                            int(cfg["replications"]), horizon)
        return str(arm.id), errs, ""

    @app.callback(Output("form-error", "children", allow_duplicate=True),
                  Input("cancel", "n_clicks"), prevent_initial_call=True)
    def cancel(_n):
        active = [a for a in runner.arms if a.active]
        for arm in active:
            runner.cancel(arm)
        return f"cancelled {len(active)} arm(s)" if active else "nothing is running"

    # ---- results as they come ----------------------------------------------------------------
    state = {"stamp": None}

    @app.callback(Output("progress", "value"), Output("progress", "max"),
                  Output("progress-text", "children"), Output("survival", "figure"),
                  Output("table", "children"), Output("arm-figures", "figure"),
                  Output("arm-figures", "style"),
                  Output("exports", "children"),
                  Input("poll", "n_intervals"), Input("version", "children"))
    def refresh(_n, _version):
        arms = list(runner.arms)
        stamp = tuple((a.id, a.status, a.done()) for a in arms)
        if stamp == state["stamp"] and ctx.triggered_id == "poll":
            raise PreventUpdate
        state["stamp"] = stamp
        if not arms:
            return "0", "1", "no arms yet: set the form and press Run", no_update, \
                arms_table([]), {}, {"display": "none"}, "no arms yet"
        last = arms[-1]
        done = last.done()
        text = (f"arm {last.id} ({last.label}): {last.status}, {done}/{last.replications} "
                f"replications" + (f" - {last.error}" if last.error else ""))
        return (str(done), str(max(last.replications, 1)), text, survival_figure(arms),
                arms_table(arms), arm_figures(last), {}, [export_block(a) for a in arms])

    # ---- export: the run dir's files ---------------------------------------------------------
    @app.server.route("/arm/<int:arm_id>/<name>")
    def arm_file(arm_id: int, name: str):  # only the files a run dir is known to hold
        from flask import abort, send_file

        arm = runner.get(arm_id)
        if arm is None or name not in EXPORTED or not (arm.run_dir / name).is_file():
            abort(404)
        return send_file(arm.run_dir / name, as_attachment=True,
                         download_name=f"arm{arm.id}-{name}")

    # ---- one replication up close ----------------------------------------------------------
    @app.callback(Output("trace-view", "children"), Input("trace-show", "n_clicks"),
                  State("trace-arm", "value"), State("trace-rep", "value"),
                  prevent_initial_call=True)
    def show_trace(_n, arm_id, rep):
        try:
            arm = runner.get(int(str(arm_id).strip()))
        except ValueError:
            arm = None
        if arm is None or not arm.done():
            return html.Div(f"arm: no arm {arm_id} with finished replications",
                            className="formerr")
        try:
            r = int(str(rep).strip())
        except ValueError:
            r = -1
        if not 0 <= r < arm.replications:
            return html.Div(f"replication: must be an integer in [0, {arm.replications - 1}]",
                            className="formerr")
        try:
            out = trace_replication(arm, r)
        except F.SimError as err:
            return html.Div(str(err), className="formerr")
        return trace_view(out)

    return app


#: The files of an arm's run dir the explorer serves for download.
EXPORTED = ("replications.csv", "summary.json", "run.json", "dwell.png")


def export_block(arm: Arm) -> Any:
    """An arm's command, run dir and links to its files."""
    from dash import html

    links = [html.A(name, href=f"/arm/{arm.id}/{name}", style={"marginRight": "10px"})
             for name in EXPORTED if (arm.run_dir / name).is_file()]
    return html.Div([html.H4(f"arm {arm.id}: {arm.label} ({arm.status})"),
                     html.Pre(arm.command, id=f"command-{arm.id}"),
                     html.Div(["run dir: ", html.Code(str(arm.run_dir))]), html.Div(links)])


def trace_replication(arm: Arm, replication: int) -> Path:
    """Re-run replication ``replication`` of ``arm`` traced, as ``trace=true
    trace_replication=R`` would: ``events.jsonl``, ``timeline.png`` and ``network.png`` in
    ``RUN_DIR/replication-R/`` (kept: shown again without re-running)."""
    from sim.cli.app import check_job, plain_config, write_trace

    out = arm.run_dir / f"replication-{replication}"
    if (out / "network.png").exists():
        return out
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(F.conf_dir()), version_base="1.3"):
            cfg = plain_config(compose("config", overrides=arm.overrides))
    finally:
        GlobalHydra.instance().clear()
    model = check_job(cfg)
    out.mkdir(parents=True, exist_ok=True)
    write_trace(model, model.run.seed, replication, out, figures=True)
    return out


#: Columns of the event table (ECS names of events.jsonl), when present.
EVENT_COLUMNS = ("@timestamp", "event.action", "event.sequence", "user.name", "source.ip",
                 "destination.address", "threat.technique.id", "observer.name",
                 "labels.records")


def trace_view(out: Path, max_rows: int = 500) -> Any:
    from dash import dash_table, html

    def img(name: str) -> Any:
        data = base64.b64encode((out / name).read_bytes()).decode("ascii")
        return html.Img(src=f"data:image/png;base64,{data}", id=f"img-{name.split('.')[0]}",
                        style={"maxWidth": "100%"})

    records = []
    with open(out / "events.jsonl", encoding="utf-8") as f:
        for line in f:
            records.append(json.loads(line))
    columns = [c for c in EVENT_COLUMNS if any(c in r for r in records)]
    extra = sorted({k for r in records for k in r} - set(columns))[:6]
    columns += extra
    rows = [{c: str(r.get(c, "")) for c in columns} for r in records[:max_rows]]
    note = (f"{len(records)} events" + (f" (first {max_rows} shown; all in {out / 'events.jsonl'})"
                                        if len(records) > max_rows else
                                        f" ({out / 'events.jsonl'})"))
    return html.Div([img("timeline.png"), img("network.png"), html.P(note),
                     dash_table.DataTable(rows, [{"name": c, "id": c} for c in columns],
                                          page_size=25, id="events",
                                          style_table={"overflowX": "auto"},
                                          style_cell={"fontSize": "12px"})])
