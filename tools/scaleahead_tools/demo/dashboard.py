"""The stack's CloudWatch dashboard, drawn from the demo's decision records.

There is no CloudWatch behind the demo, so this draws what the dashboard of ``template.yaml``
would show for the replayed days: its widgets on its own grid (x, y, width, height), with its
titles and labels, and each line computed as CloudWatch would compute it. Every decision record
becomes the datapoints the functions publish for it (``decision_datapoints``, the mapping of
``handlers.common.observe_decision``: ``published()``, then ``Actions`` or ``NotScaled`` by
reason), stamped with the record's time, and each widget row aggregates them by its period and
statistic (``aggregate``); a ``SEARCH`` row becomes one line per matching dimension value, its
``${PROP('Dim.X')}`` label filled in. The body's pattern variable (the Target drop-down) is set
as the console sets it, by replacing its pattern everywhere in the body.

Only widgets the decision records can feed are drawn: the per-target rows and the *All targets*
row. The control-plane widgets (Lambda, SQS, the functions' own metrics) need a Lambda service
and are listed in a footnote instead.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scaleahead.domain.record import DecisionRecord, published
from scaleahead.handlers.common import ACTIONS_METRIC, NOT_SCALED_METRIC
from scaleahead_testkit.local_aws import TEMPLATE, load_template

# A metric's identity: its name and its full dimension set (CloudWatch finds a metric only by
# both), the dimensions as sorted (name, value) pairs.
Dimensions = tuple[tuple[str, str], ...]
MetricKey = tuple[str, str, Dimensions]
Point = tuple[float, float]

GRID_COLUMNS = 24
FOOTNOTE = "control-plane widgets (AWS/Lambda, AWS/SQS) not rendered: no Lambda service locally"


@dataclass(frozen=True)
class TemplateDashboard:
    """The dashboard body as CloudFormation would deploy it, and where the functions publish
    (the Powertools namespace and service of the template's Globals)."""

    body: dict[str, Any]
    namespace: str
    service: str


_SUB = re.compile(r"\$\{(!?)([^}]*)\}")


def substitute(text: str, values: Mapping[str, str]) -> str:
    """``!Sub``, minimally: ``${Name}`` from ``values`` when given (else left as written; only
    the control-plane widgets, which are not drawn, name resources), ``${!X}`` -> ``${X}``."""
    return _SUB.sub(lambda m: "${" + m[2] + "}" if m[1] else values.get(m[2], m[0]), text)


def template_dashboard(
    path: Path = TEMPLATE, stack_name: str = "scaleahead-demo", region: str = "us-east-1"
) -> TemplateDashboard:
    """The template's ``Dashboard`` body, parsed after ``!Sub``."""
    template = load_template(path)
    sub = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    if not isinstance(sub, str):
        raise ValueError("the DashboardBody is expected as a !Sub string")
    text = substitute(sub, {"AWS::StackName": stack_name, "AWS::Region": region})
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    return TemplateDashboard(
        json.loads(text), env["POWERTOOLS_METRICS_NAMESPACE"], env["POWERTOOLS_SERVICE_NAME"]
    )


def select(body: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
    """The body with each pattern variable (by id) set: its pattern replaced everywhere."""
    patterns = {
        v["pattern"]: choices[v["id"]]
        for v in body.get("variables", [])
        if v.get("type") == "pattern" and v.get("id") in choices
    }

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            for pattern, value in patterns.items():
                node = node.replace(pattern, value)
        return node

    out: dict[str, Any] = walk(dict(body))
    return out


# ---------------------------------------------------------------- what the functions publish


def decision_datapoints(
    target_id: str, record: DecisionRecord
) -> list[tuple[str, Dimensions, float]]:
    """The per-target metrics one decision publishes, as ``observe_decision`` sends them (the
    ``service`` dimension, which Powertools adds, aside): every figure ``published()`` gives and
    ``Actions`` = 1 when the change was executed, under ``Target``; ``NotScaled`` = 1 under
    ``Target`` and ``Reason`` when it was not."""
    per_target: Dimensions = (("Target", target_id),)
    out = [(name, per_target, value) for name, _unit, value in published(record)]
    if record.executed:
        out.append((ACTIONS_METRIC, per_target, 1.0))
    else:
        why = tuple(sorted({"Target": target_id, "Reason": record.reason.value}.items()))
        out.append((NOT_SCALED_METRIC, why, 1.0))
    return out


class MetricStore:
    """The datapoints of every decision, per metric, as CloudWatch would hold them."""

    def __init__(
        self,
        decisions: Mapping[str, Iterable[DecisionRecord]],
        namespace: str = "Scaleahead",
        service: str = "scaleahead",
    ) -> None:
        self.points: dict[MetricKey, list[Point]] = defaultdict(list)
        for target_id, records in decisions.items():
            for record in records:
                if record.at is None:
                    raise ValueError(f"{target_id}: a decision without its time ({record.at=})")
                for name, dims, value in decision_datapoints(target_id, record):
                    key = (namespace, name, tuple(sorted((*dims, ("service", service)))))
                    self.points[key].append((record.at, value))

    def get(self, namespace: str, name: str, dimensions: Mapping[str, str]) -> list[Point]:
        return self.points.get((namespace, name, tuple(sorted(dimensions.items()))), [])

    def search(
        self, namespace: str, schema: frozenset[str], name: str, filters: Mapping[str, str]
    ) -> dict[Dimensions, list[Point]]:
        """``SEARCH('{namespace,dims...} MetricName="name" Key="value"')``: the metrics of
        exactly that dimension set whose values match the filters."""
        return {
            dims: pts
            for (ns, n, dims), pts in sorted(self.points.items())
            if ns == namespace
            and n == name
            and frozenset(d for d, _ in dims) == schema
            and all(dict(dims).get(k) == v for k, v in filters.items())
        }


def _percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    rank = p / 100 * (len(ordered) - 1)
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def statistic(values: Sequence[float], stat: str) -> float:
    if stat == "Average":
        return sum(values) / len(values)
    if stat == "Sum":
        return float(sum(values))
    if stat == "Maximum":
        return max(values)
    if stat == "Minimum":
        return min(values)
    if stat == "SampleCount":
        return float(len(values))
    if re.fullmatch(r"p\d+(\.\d+)?", stat):
        return _percentile(values, float(stat[1:]))
    raise ValueError(f"statistic {stat!r} is not drawn here")


def aggregate(points: Iterable[Point], period: int, stat: str) -> list[Point]:
    """CloudWatch's datapoints of a metric: one per ``period``-second bucket that holds data
    (buckets start on multiples of the period), the statistic over the bucket's values."""
    buckets: dict[float, list[float]] = defaultdict(list)
    for t, v in points:
        buckets[t - t % period].append(v)
    return [(start, statistic(values, stat)) for start, values in sorted(buckets.items())]


# ---------------------------------------------------------------- the widgets' lines


@dataclass(frozen=True)
class Series:
    label: str
    points: list[Point]
    period: int
    stat: str


_SEARCH = re.compile(
    r"""SEARCH\(\s*'\{(?P<schema>[^}]*)\}(?P<terms>[^']*)'\s*,\s*'(?P<stat>[^']+)'\s*,\s*"""
    r"""(?P<period>\d+)\s*\)"""
)
_TERM = re.compile(r'(?P<key>\w+)\s*=\s*"(?P<value>[^"]*)"')
_PROP = re.compile(r"\$\{PROP\('Dim\.(?P<dim>\w+)'\)\}")


@dataclass(frozen=True)
class Search:
    namespace: str
    schema: frozenset[str]
    name: str
    filters: dict[str, str]
    stat: str
    period: int


def parse_search(expression: str) -> Search | None:
    """A ``SEARCH('{ns,dim,...} MetricName="m" Dim="v"', 'Stat', period)`` expression."""
    m = _SEARCH.fullmatch(expression.strip())
    if m is None:
        return None
    namespace, *dims = (p.strip() for p in m["schema"].split(","))
    terms = {t["key"]: t["value"] for t in _TERM.finditer(m["terms"])}
    name = terms.pop("MetricName", None)
    if name is None:
        return None
    return Search(namespace, frozenset(dims), name, terms, m["stat"], int(m["period"]))


def _plain_row(row: Sequence[Any]) -> tuple[str, str, dict[str, str], dict[str, Any]] | None:
    parts = [p for p in row if isinstance(p, str)]
    if len(parts) < 2:
        return None
    options = row[-1] if isinstance(row[-1], dict) else {}
    namespace, name, *dims = parts
    return namespace, name, dict(zip(dims[::2], dims[1::2], strict=True)), options


def drawable(widget: Mapping[str, Any], namespace: str) -> bool:
    """A metric widget every row of which the decision records feed: per-target metrics of
    ``namespace`` (a ``Target`` dimension), plain or searched."""
    if widget.get("type") != "metric":
        return False
    rows = widget["properties"].get("metrics", [])
    for row in rows:
        plain = _plain_row(row)
        if plain is not None:
            if plain[0] != namespace or "Target" not in plain[2]:
                return False
            continue
        expression = next((i["expression"] for i in row if isinstance(i, dict)), "")
        search = parse_search(expression)
        if search is None or search.namespace != namespace or "Target" not in search.schema:
            return False
    return bool(rows)


def widget_series(widget: Mapping[str, Any], store: MetricStore) -> list[Series]:
    """The lines of one metric widget, in the order of its rows, labelled as the console
    labels them (a row's ``label``, or its metric name)."""
    props = widget["properties"]
    out = []
    for row in props.get("metrics", []):
        plain = _plain_row(row)
        if plain is not None:
            namespace, name, dims, options = plain
            period = int(options.get("period", props.get("period", 300)))
            stat = str(options.get("stat", props.get("stat", "Average")))
            pts = aggregate(store.get(namespace, name, dims), period, stat)
            out.append(Series(str(options.get("label", name)), pts, period, stat))
            continue
        options = next(i for i in row if isinstance(i, dict))
        search = parse_search(options["expression"])
        assert search is not None, options
        for found, raw in store.search(
            search.namespace, search.schema, search.name, search.filters
        ).items():
            values = dict(found)
            label = _PROP.sub(
                lambda m, v=values: v.get(m["dim"], ""),  # type: ignore[misc]
                str(options.get("label", search.name)),
            )
            out.append(
                Series(
                    label, aggregate(raw, search.period, search.stat), search.period, search.stat
                )
            )
    return out


# ---------------------------------------------------------------- drawing


COL_INCHES = 16 / GRID_COLUMNS  # a 16-inch-wide dashboard
ROW_INCHES = 0.42
BAR_INCHES = 0.42  # the variables' bar above the widgets
FOOT_INCHES = 0.6


def _markdown(text: str) -> list[tuple[str, bool]]:
    """Lines of a text widget, ``(text, heading)``, emphasis marks dropped."""
    lines = []
    for line in text.splitlines():
        heading = line.startswith("#")
        plain = re.sub(r"\*\*?([^*]+)\*\*?", r"\1", line.lstrip("#").strip())
        lines.append((plain, heading))
    return lines


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%a %d %b %H:%M")


def render_dashboard(
    decisions: Mapping[str, Sequence[DecisionRecord]],
    body: Mapping[str, Any],
    target: str,
    path: Path,
    *,
    namespace: str = "Scaleahead",
    service: str = "scaleahead",
    start: float | None = None,
    end: float | None = None,
    dpi: int = 90,
) -> Path:
    """Draw the widgets the records feed for ``target`` (the Target drop-down set to it) and
    for all ``decisions``' targets, on the body's grid, between ``start`` and ``end``
    (default: the records' span), to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from PIL import Image

    variable = next(
        (v for v in body.get("variables", []) if v.get("populateFrom") == "Target"), None
    )
    chosen = select(body, {variable["id"]: target}) if variable else dict(body)
    store = MetricStore(decisions, namespace, service)
    times = [r.at for rs in decisions.values() for r in rs if r.at is not None]
    t0 = start if start is not None else min(times, default=0.0)
    t1 = end if end is not None else max(times, default=t0 + 3600)

    widgets = chosen["widgets"]
    drawn = [w for w in widgets if drawable(w, namespace)]
    if not drawn:
        raise ValueError("no widget of the body plots per-target decision metrics")
    bottom = max(w["y"] + w["height"] for w in drawn)
    shown = [w for w in widgets if w["y"] < bottom and (w in drawn or w["type"] == "text")]
    skipped = [
        str(w["properties"].get("title", w["type"]))
        for w in widgets
        if w["type"] != "text" and w not in drawn
    ]

    width = GRID_COLUMNS * COL_INCHES
    height = BAR_INCHES + bottom * ROW_INCHES + FOOT_INCHES
    fig = plt.figure(figsize=(width, height), dpi=dpi, facecolor="#f2f3f3")

    def box(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        """Figure fractions of a rectangle given in inches from the top left."""
        return (x / width, 1 - (y + h) / height, w / width, h / height)

    # The variables' bar: the Target drop-down, set as chosen.
    if variable:
        fig.text(
            0.1 / width,
            1 - BAR_INCHES / 2 / height,
            f"{variable.get('label', 'Target')}: [ {target} \u25be ]      time range: "
            f"{_utc(t0)} to {_utc(t1)} UTC, the demo's replay (the dashboard opens on "
            f"{chosen.get('start', '-PT6H')}; periods as each widget sets them)",
            va="center",
            fontsize=9,
            color="#16191f",
        )
    pad = 0.06
    for w in shown:
        x_in = w["x"] * COL_INCHES + pad
        y_in = BAR_INCHES + w["y"] * ROW_INCHES + pad
        w_in = w["width"] * COL_INCHES - 2 * pad
        h_in = w["height"] * ROW_INCHES - 2 * pad
        frame = Rectangle(
            box(x_in, y_in, w_in, h_in)[:2],
            w_in / width,
            h_in / height,
            transform=fig.transFigure,
            facecolor="white",
            edgecolor="#d5dbdb",
            lw=0.8,
            zorder=0,
        )
        fig.add_artist(frame)
        props = w["properties"]
        if w["type"] == "text":
            lines = _markdown(props.get("markdown", ""))
            for i, (line, heading) in enumerate(lines):
                fig.text(
                    (x_in + 0.1) / width,
                    1 - (y_in + 0.2 + i * 0.24) / height,
                    line,
                    va="center",
                    fontsize=10 if heading else 8,
                    fontweight="bold" if heading else "normal",
                    color="#16191f",
                    wrap=True,
                )
            continue
        fig.text(
            (x_in + 0.1) / width,
            1 - (y_in + 0.17) / height,
            props.get("title", ""),
            va="center",
            fontsize=9,
            fontweight="bold",
            color="#16191f",
        )
        series = widget_series(w, store)
        legend_rows = max(1, math.ceil(len(series) / max(1, int(w_in / 2.2))))
        top, foot, left, right = 0.38, 0.32 + 0.17 * legend_rows, 0.45, 0.12
        ax = fig.add_axes(box(x_in + left, y_in + top, w_in - left - right, h_in - top - foot))
        _draw(ax, series, props, t0, t1, mdates)
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(0, -0.13),
            ncols=max(1, int(w_in / 2.2)),
            fontsize=7,
            frameon=False,
            handlelength=1.2,
            borderaxespad=0,
        )
    note = FOOTNOTE + "."
    if skipped:
        note += " Also not drawn: " + ", ".join(skipped) + "."
    notes = [
        "Rendered from the demo's decision records through published() (the functions' EMF "
        "mapping), aggregated per widget period and statistic as CloudWatch would; not a "
        "console screenshot.",
        *textwrap.wrap(note, int(width * 16)),
    ]
    for i, line in enumerate(notes):
        fig.text(
            0.1 / width,
            (FOOT_INCHES - 0.17 * (i + 1)) / height,
            line,
            fontsize=7.5,
            color="#545b64",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas = fig.canvas
    canvas.draw()
    rgba = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())  # type: ignore[attr-defined]
    plt.close(fig)
    # A palette of 256 colours: a quarter of the bytes, the lines as drawn.
    rgba.convert("RGB").quantize(256).save(path, optimize=True)
    return path


def _draw(
    ax: Any, series: Sequence[Series], props: Mapping[str, Any], t0: float, t1: float, mdates: Any
) -> None:
    def when(t: float) -> datetime:
        return datetime.fromtimestamp(t, UTC)

    if props.get("stacked"):
        # Stacked: each line on top of the ones before it, over the union of their buckets
        # (a bucket without data counts 0, as a count of decisions is).
        starts = sorted({t for s in series for t, _ in s.points})
        base = [0.0] * len(starts)
        xs = [when(t) for t in starts]
        for s in series:
            values = dict(s.points)
            top = [b + values.get(t, 0.0) for b, t in zip(base, starts, strict=True)]
            ax.fill_between(xs, base, top, step="post", lw=0, alpha=0.8, label=s.label)
            base = top
    else:
        for s in series:
            ax.plot([when(t) for t, _ in s.points], [v for _, v in s.points], lw=1, label=s.label)
    axis = props.get("yAxis", {}).get("left", {})
    if "min" in axis:
        ax.set_ylim(bottom=axis["min"])
    if "max" in axis:
        ax.set_ylim(top=axis["max"])
    if axis.get("label"):
        ax.set_ylabel(axis["label"], fontsize=7)
    for mark in props.get("annotations", {}).get("horizontal", []):
        ax.axhline(mark["value"], color="tab:red", lw=0.8, ls="--")
    ax.set_xlim(when(t0), when(t1))
    locator = mdates.AutoDateLocator(maxticks=8, tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC, show_offset=False))
    ax.tick_params(labelsize=7, length=2)
    ax.grid(True, color="#eaeded", lw=0.6)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    for spine in ("left", "bottom"):
        ax.spines[spine].set_color("#aab7b8")
