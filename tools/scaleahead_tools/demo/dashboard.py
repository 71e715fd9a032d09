"""The stack's CloudWatch dashboard, drawn from the demo's decision records.

There is no CloudWatch behind the demo, so this draws what the dashboard of ``template.yaml``
would show for the replayed days: its widgets on its own grid (x, y, width, height), with its
titles and labels, each computed as CloudWatch would compute it.

The per-target and *All targets* widgets are Logs Insights queries over the functions'
"decision" log lines. Every decision record becomes the line the function would log for it
(``decision_events``: ``decision_line(record)`` plus the target's id and kind, under the message
"decision", stamped with the record's time and put in the worker's or the alarm function's log
group), and each widget's query is evaluated over those lines by ``run_query``, a small
interpreter of the part of the Logs Insights language the template uses (``SOURCE``, ``filter``
with ``=`` and ``and``, ``stats`` with ``avg``/``latest``/``count``/``sum`` and ``as``, grouped
``by bin(N)`` and/or a field, ``sort``, ``limit``). ``parse_query`` refuses anything else, so a
query the template adds cannot be drawn wrong silently. The body's pattern variable (the
Target id box) is set as the console sets it, by replacing its pattern everywhere in the body.

The fleet row's metric widget (``Actions`` and ``NotScaled``, dimension ``service``) is drawn
from the counts ``observe_decision`` adds per decision (``fleet_datapoints``), aggregated by its
period and statistic. The control-plane widgets (Lambda, SQS, the functions' own metrics) need
a Lambda service and are listed in a footnote instead.
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

from scaleahead.domain.record import DecisionRecord, Source, decision_line
from scaleahead.handlers.common import ACTIONS_METRIC, NOT_SCALED_METRIC
from scaleahead_testkit.local_aws import TEMPLATE, load_template

Point = tuple[float, float]
Event = dict[str, object]

GRID_COLUMNS = 24
FOOTNOTE = "control-plane widgets (AWS/Lambda, AWS/SQS) not rendered: no Lambda service locally"
DEMO_STACK = "scaleahead-demo"
# The log group each kind of decision is written to: the function that decides logs it.
LOG_GROUP_RESOURCES = {
    Source.WORKER: "WorkerFunctionLogGroup",
    Source.ALARM: "AlarmFunctionLogGroup",
}


@dataclass(frozen=True)
class TemplateDashboard:
    """The dashboard body as CloudFormation would deploy it, where the functions publish (the
    Powertools namespace and service of the template's Globals) and the log group each kind of
    decision is written to."""

    body: dict[str, Any]
    namespace: str
    service: str
    log_groups: dict[Source, str]


_SUB = re.compile(r"\$\{(!?)([^}]*)\}")


def substitute(text: str, values: Mapping[str, str]) -> str:
    """``!Sub``, minimally: ``${Name}`` from ``values`` when given (else left as written; only
    the control-plane widgets, which are not drawn, name other resources), ``${!X}`` -> ``${X}``."""
    return _SUB.sub(lambda m: "${" + m[2] + "}" if m[1] else values.get(m[2], m[0]), text)


def _log_group_names(template: Mapping[str, Any], pseudo: Mapping[str, str]) -> dict[str, str]:
    """Each ``AWS::Logs::LogGroup`` resource's name (what its ``Ref`` gives), resolved."""
    out = {}
    for logical, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Logs::LogGroup":
            continue
        name = resource["Properties"]["LogGroupName"]
        if isinstance(name, dict):
            name = substitute(name["Fn::Sub"], pseudo)
        out[logical] = str(name)
    return out


def template_dashboard(
    path: Path = TEMPLATE, stack_name: str = DEMO_STACK, region: str = "us-east-1"
) -> TemplateDashboard:
    """The template's ``Dashboard`` body, parsed after ``!Sub`` (log groups' ``Ref`` resolved to
    their names, as CloudFormation resolves them)."""
    template = load_template(path)
    sub = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    if not isinstance(sub, str):
        raise ValueError("the DashboardBody is expected as a !Sub string")
    pseudo = {"AWS::StackName": stack_name, "AWS::Region": region}
    groups = _log_group_names(template, pseudo)
    text = substitute(sub, {**pseudo, **groups})
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    return TemplateDashboard(
        json.loads(text),
        env["POWERTOOLS_METRICS_NAMESPACE"],
        env["POWERTOOLS_SERVICE_NAME"],
        {source: groups[logical] for source, logical in LOG_GROUP_RESOURCES.items()},
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


# ---------------------------------------------------------------- what the functions write


def decision_event(target_id: str, record: DecisionRecord, log_group: str) -> Event:
    """The decision's log line as Logs Insights sees it: the fields ``observe_decision`` logs
    (``target``, ``kind``, then ``decision_line(record)``) under the message "decision", with
    the discovered fields ``@timestamp`` (the record's time, seconds) and ``@log``."""
    if record.at is None:
        raise ValueError(f"{target_id}: a decision without its time ({record.at=})")
    event: Event = {"@timestamp": record.at, "@log": log_group, "message": "decision"}
    event["target"] = target_id
    if record.kind is not None:
        event["kind"] = record.kind
    event.update(decision_line(record))
    return event


def decision_events(
    decisions: Mapping[str, Iterable[DecisionRecord]], log_groups: Mapping[Source, str]
) -> list[Event]:
    """Every decision's line, in the log group of the function that made it."""
    return [
        decision_event(target_id, record, log_groups[record.source])
        for target_id, records in decisions.items()
        for record in records
    ]


def fleet_datapoints(record: DecisionRecord) -> list[tuple[str, float]]:
    """The fleet count one decision adds (MetricsLevel fleet and per-target): ``Actions`` when
    it was executed, ``NotScaled`` when not, dimension ``service`` only."""
    return [(ACTIONS_METRIC if record.executed else NOT_SCALED_METRIC, 1.0)]


class MetricStore:
    """The fleet counts of every decision, as CloudWatch would hold them (dimension service)."""

    def __init__(
        self,
        decisions: Mapping[str, Iterable[DecisionRecord]],
        namespace: str = "Scaleahead",
        service: str = "scaleahead",
    ) -> None:
        self.namespace, self.service = namespace, service
        self.points: dict[str, list[Point]] = defaultdict(list)
        for target_id, records in decisions.items():
            for record in records:
                if record.at is None:
                    raise ValueError(f"{target_id}: a decision without its time ({record.at=})")
                for name, value in fleet_datapoints(record):
                    self.points[name].append((record.at, value))

    def feeds(self, namespace: str, name: str, dimensions: Mapping[str, str]) -> bool:
        return (
            namespace == self.namespace
            and name in {ACTIONS_METRIC, NOT_SCALED_METRIC}
            and dict(dimensions) == {"service": self.service}
        )

    def get(self, namespace: str, name: str, dimensions: Mapping[str, str]) -> list[Point]:
        return self.points.get(name, []) if self.feeds(namespace, name, dimensions) else []


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


# ---------------------------------------------------------------- Logs Insights, the subset used


class UnsupportedQuery(ValueError):
    """A Logs Insights query outside the subset ``parse_query`` understands."""


AGGREGATIONS = ("avg", "latest", "count", "sum")
_FIELD = r"@?[A-Za-z_][A-Za-z0-9_.]*"
_LITERAL = r"'[^']*'|\"[^\"]*\"|-?\d+(?:\.\d+)?"
_CONDITION = rf"({_FIELD})\s*=\s*({_LITERAL})"
_CONDITIONS = re.compile(rf"{_CONDITION}(?:\s+and\s+{_CONDITION})*")
_AGGREGATION = re.compile(
    rf"(?P<fn>\w+)\(\s*(?P<arg>\*|{_FIELD})\s*\)(?:\s+as\s+(?P<alias>[A-Za-z_]\w*))?"
)
_BIN = re.compile(r"bin\((?P<n>\d+)(?P<unit>ms|s|sec|m|min|h|hr|d)\)")
_BIN_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}


@dataclass(frozen=True)
class Aggregation:
    function: str  # one of AGGREGATIONS
    field: str  # "*" for count(*)
    name: str  # the result column: its alias, else as written ("avg(x)")


@dataclass(frozen=True)
class Query:
    sources: tuple[str, ...]
    filters: tuple[tuple[str, str | float], ...]  # field = value, all of them (and)
    aggregations: tuple[Aggregation, ...]
    by: tuple[str, ...]  # group fields, besides the time bin
    bin_column: str | None = None  # "bin(5m)": the result column of the time bin
    bin_seconds: int | None = None
    sort: tuple[str, bool] | None = None  # column, descending
    limit: int | None = None

    @property
    def fields(self) -> set[str]:
        """The log fields the query reads (filters, aggregations, groups)."""
        read = {f for f, _ in self.filters} | set(self.by)
        return read | {a.field for a in self.aggregations if a.field != "*"}

    @property
    def columns(self) -> list[str]:
        """The result's columns, in order."""
        head = [self.bin_column] if self.bin_column else []
        return [*head, *self.by, *(a.name for a in self.aggregations)]


def _commands(text: str) -> list[str]:
    """The query's commands: split on ``|`` outside quotes."""
    out: list[str] = []
    current: list[str] = []
    quote = ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "|":
            out.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    if quote:
        raise UnsupportedQuery(f"unclosed quote in {text!r}")
    out.append("".join(current).strip())
    return out


def _literal(text: str) -> str | float:
    return text[1:-1] if text[0] in "'\"" else float(text)


def _stats(text: str) -> tuple[tuple[Aggregation, ...], tuple[str, ...], str | None, int | None]:
    aggs_text, _, by_text = text.partition(" by ")
    aggregations = []
    for part in aggs_text.split(","):
        m = _AGGREGATION.fullmatch(part.strip())
        if m is None or m["fn"] not in AGGREGATIONS or (m["arg"] == "*" and m["fn"] != "count"):
            raise UnsupportedQuery(f"aggregation {part.strip()!r}")
        name = m["alias"] or f"{m['fn']}({m['arg']})"
        aggregations.append(Aggregation(m["fn"], m["arg"], name))
    by: list[str] = []
    bin_column, bin_seconds = None, None
    for part in (p.strip() for p in by_text.split(",")) if by_text.strip() else ():
        b = _BIN.fullmatch(part)
        if b is not None and bin_column is None and b["unit"] != "ms":
            bin_column, bin_seconds = part, int(b["n"]) * _BIN_SECONDS[b["unit"]]
        elif re.fullmatch(_FIELD, part) and not part.startswith("bin"):
            by.append(part)
        else:
            raise UnsupportedQuery(f"grouping {part!r}")
    return tuple(aggregations), tuple(by), bin_column, bin_seconds


def parse_query(text: str) -> Query:
    """A dashboard log widget's query, in the subset drawn here: ``SOURCE 'group'`` commands
    first, then ``filter`` commands (``field = literal``, joined by ``and``), one ``stats`` of
    avg/latest/count/sum (``as`` names) ``by`` a ``bin(N)`` and/or fields, then optionally
    ``sort column asc|desc`` and ``limit N``. Anything else raises ``UnsupportedQuery``."""
    commands = _commands(text)
    sources: list[str] = []
    filters: list[tuple[str, str | float]] = []
    stats: tuple[tuple[Aggregation, ...], tuple[str, ...], str | None, int | None] | None = None
    sort: tuple[str, bool] | None = None
    limit: int | None = None
    for command in commands:
        verb, _, rest = command.partition(" ")
        rest = rest.strip()
        if verb == "SOURCE" and not filters and stats is None:
            m = re.fullmatch(r"'([^']+)'", rest)
            if m is None:
                raise UnsupportedQuery(f"SOURCE {rest!r}: one quoted log group name")
            sources.append(m[1])
        elif verb == "filter" and sources and stats is None:
            if not _CONDITIONS.fullmatch(rest):
                raise UnsupportedQuery(f"filter {rest!r}: only field = literal, joined by and")
            for m in re.finditer(_CONDITION, rest):
                filters.append((m[1], _literal(m[2])))
        elif verb == "stats" and sources and stats is None:
            stats = _stats(rest)
        elif verb == "sort" and stats is not None and sort is None and limit is None:
            m = re.fullmatch(rf"({_FIELD}|bin\(\w+\))\s+(asc|desc)", rest)
            if m is None:
                raise UnsupportedQuery(f"sort {rest!r}: a column, then asc or desc")
            sort = (m[1], m[2] == "desc")
        elif verb == "limit" and stats is not None and limit is None and rest.isdigit():
            limit = int(rest)
        else:
            raise UnsupportedQuery(f"command {command!r} (where it stands) in {text!r}")
    if stats is None:
        raise UnsupportedQuery(f"no stats command in {text!r}")
    aggregations, by, bin_column, bin_seconds = stats
    query = Query(
        tuple(sources), tuple(filters), aggregations, by, bin_column, bin_seconds, sort, limit
    )
    if sort is not None and sort[0] not in query.columns:
        raise UnsupportedQuery(f"sort on {sort[0]!r}, not a result column {query.columns}")
    return query


def _number(value: object) -> float | None:
    """A field's numeric value (a JSON boolean counts 1 or 0), else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def _matches(event: Mapping[str, object], field: str, wanted: str | float) -> bool:
    value = event.get(field)
    if isinstance(wanted, str):
        return isinstance(value, str) and value == wanted
    number = _number(value)
    return number is not None and number == wanted


def _aggregate(agg: Aggregation, events: Sequence[Mapping[str, object]]) -> object:
    if agg.function == "count":
        return len(events) if agg.field == "*" else sum(agg.field in e for e in events)
    if agg.function == "latest":
        # The value of the latest event that has the field (an alarm's line has no plan).
        having = [e for e in events if e.get(agg.field) is not None]
        if not having:
            return None
        return max(enumerate(having), key=lambda ie: (_number(ie[1]["@timestamp"]), ie[0]))[1][
            agg.field
        ]
    values = [v for v in (_number(e.get(agg.field)) for e in events) if v is not None]
    if not values:
        return None
    return sum(values) / len(values) if agg.function == "avg" else sum(values)


def _order(value: object) -> tuple[int, float, str]:
    """Sort key: nulls last, numbers by value, text alphabetically."""
    number = _number(value)
    if value is None:
        return (2, 0.0, "")
    return (0, number, "") if number is not None else (1, 0.0, str(value))


def run_query(query: Query, events: Iterable[Mapping[str, object]]) -> list[dict[str, object]]:
    """The query's result rows over ``events`` (each a log line's fields, with ``@log`` and
    ``@timestamp`` in seconds), ordered by time bin and group unless the query sorts."""
    groups: dict[tuple[object, ...], list[Mapping[str, object]]] = defaultdict(list)
    for event in events:
        if event.get("@log") not in query.sources:
            continue
        if not all(_matches(event, f, v) for f, v in query.filters):
            continue
        key: tuple[object, ...] = tuple(event.get(f) for f in query.by)
        if query.bin_seconds is not None:
            t = _number(event["@timestamp"])
            assert t is not None
            key = (t - t % query.bin_seconds, *key)
        groups[key].append(event)
    rows = []
    for key, members in sorted(groups.items(), key=lambda kv: [_order(k) for k in kv[0]]):
        row: dict[str, object] = dict(zip(query.columns, key, strict=False))
        for agg in query.aggregations:
            row[agg.name] = _aggregate(agg, members)
        rows.append(row)
    if query.sort is not None:
        column, descending = query.sort
        present = [r for r in rows if r.get(column) is not None]
        present.sort(key=lambda r: _order(r[column]), reverse=descending)
        rows = present + [r for r in rows if r.get(column) is None]
    return rows[: query.limit] if query.limit is not None else rows


# ---------------------------------------------------------------- the widgets' lines


@dataclass(frozen=True)
class Series:
    label: str
    points: list[Point]
    period: int
    stat: str


def _plain_row(row: Sequence[Any]) -> tuple[str, str, dict[str, str], dict[str, Any]] | None:
    parts = [p for p in row if isinstance(p, str)]
    if len(parts) < 2:
        return None
    options = row[-1] if isinstance(row[-1], dict) else {}
    namespace, name, *dims = parts
    return namespace, name, dict(zip(dims[::2], dims[1::2], strict=True)), options


def drawable(widget: Mapping[str, Any], log_groups: Iterable[str], store: MetricStore) -> bool:
    """A widget the decision records feed: a log widget that reads only the decision log
    groups (its query parsed, so one outside the subset raises), or a metric widget every row
    of which is a fleet count of ``store``."""
    props = widget.get("properties", {})
    if widget.get("type") == "log":
        return set(parse_query(props["query"]).sources) <= set(log_groups)
    if widget.get("type") != "metric":
        return False
    rows = [_plain_row(row) for row in props.get("metrics", [])]
    return bool(rows) and all(r is not None and store.feeds(*r[:3]) for r in rows)


def metric_series(widget: Mapping[str, Any], store: MetricStore) -> list[Series]:
    """The lines of a fleet metric widget, in the order of its rows, labelled as the console
    labels them (a row's ``label``, or its metric name)."""
    props = widget["properties"]
    out = []
    for row in props.get("metrics", []):
        plain = _plain_row(row)
        assert plain is not None, row
        namespace, name, dims, options = plain
        period = int(options.get("period", props.get("period", 300)))
        stat = str(options.get("stat", props.get("stat", "Average")))
        pts = aggregate(store.get(namespace, name, dims), period, stat)
        out.append(Series(str(options.get("label", name)), pts, period, stat))
    return out


def log_series(widget: Mapping[str, Any], events: Sequence[Event]) -> list[Series]:
    """The lines of a ``timeSeries`` log widget: one per aggregation, or, grouped by a field
    besides the bin, one per value of that field (a single aggregation), as Logs Insights
    draws them."""
    props = widget["properties"]
    query = parse_query(props["query"])
    if props.get("view") != "timeSeries" or query.bin_column is None:
        raise UnsupportedQuery(f"{props.get('title')}: a timeSeries view needs a bin()")
    assert query.bin_seconds is not None
    rows = run_query(query, events)

    def points(rows: Iterable[Mapping[str, object]], column: str) -> list[Point]:
        out = []
        for r in rows:
            t, v = _number(r[query.bin_column or ""]), _number(r[column])
            if t is not None and v is not None:
                out.append((t, v))
        return sorted(out)

    if not query.by:
        return [
            Series(a.name, points(rows, a.name), query.bin_seconds, a.function)
            for a in query.aggregations
        ]
    if len(query.by) != 1 or len(query.aggregations) != 1:
        raise UnsupportedQuery(f"{props.get('title')}: one group field and one aggregation")
    (field,), (agg,) = query.by, query.aggregations
    values = sorted({r[field] for r in rows}, key=_order)
    return [
        Series(
            str(v),
            points((r for r in rows if r[field] == v), agg.name),
            query.bin_seconds,
            agg.function,
        )
        for v in values
    ]


def _cell(value: object) -> str:
    if value is None:
        return ""
    number = _number(value)
    if number is None:
        return str(value)
    return str(int(number)) if number.is_integer() else f"{number:.1f}"


def log_table(
    widget: Mapping[str, Any], events: Sequence[Event]
) -> tuple[list[str], list[list[str]]]:
    """A ``table`` log widget: its columns and rows, as text."""
    props = widget["properties"]
    if props.get("view") != "table":
        raise UnsupportedQuery(f"{props.get('title')}: view {props.get('view')!r} is not a table")
    query = parse_query(props["query"])
    rows = run_query(query, events)
    return query.columns, [[_cell(r.get(c)) for c in query.columns] for r in rows]


# ---------------------------------------------------------------- drawing


COL_INCHES = 16 / GRID_COLUMNS  # a 16-inch-wide dashboard
ROW_INCHES = 0.42
BAR_INCHES = 0.42  # the variables' bar above the widgets
FOOT_INCHES = 0.6


def _markdown(text: str) -> list[tuple[str, bool]]:
    """Lines of a text widget, ``(text, heading)``, emphasis and code marks dropped."""
    lines = []
    for line in text.splitlines():
        heading = line.startswith("#")
        plain = re.sub(r"\*\*?([^*]+)\*\*?", r"\1", line.lstrip("#").strip()).replace("`", "")
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
    log_groups: Mapping[Source, str] | None = None,
    start: float | None = None,
    end: float | None = None,
    dpi: int = 90,
) -> Path:
    """Draw the widgets the records feed for ``target`` (typed in the Target id box) and for
    all ``decisions``' targets, on the body's grid, between ``start`` and ``end`` (default: the
    records' span), to ``path`` (PNG). ``log_groups``: where each kind of decision is logged
    (default: the template's, for the demo's stack name, as ``template_dashboard`` gives)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from PIL import Image

    groups = dict(log_groups) if log_groups is not None else template_dashboard().log_groups
    variable = next((v for v in body.get("variables", []) if v.get("type") == "pattern"), None)
    chosen = select(body, {variable["id"]: target}) if variable else dict(body)
    store = MetricStore(decisions, namespace, service)
    events = decision_events(decisions, groups)
    times = [r.at for rs in decisions.values() for r in rs if r.at is not None]
    t0 = start if start is not None else min(times, default=0.0)
    t1 = end if end is not None else max(times, default=t0 + 3600)

    widgets = chosen["widgets"]
    drawn = [w for w in widgets if drawable(w, groups.values(), store)]
    if not drawn:
        raise ValueError("no widget of the body is fed by the decisions")
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

    # The variables' bar: the Target id box, filled in as chosen.
    if variable:
        fig.text(
            0.1 / width,
            1 - BAR_INCHES / 2 / height,
            f"{variable.get('label', 'Target')}: [ {target} ]      time range: "
            f"{_utc(t0)} to {_utc(t1)} UTC, the demo's replay (the dashboard opens on "
            f"{chosen.get('start', '-PT6H')}; bins and periods as each widget sets them)",
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
                for j, part in enumerate(textwrap.wrap(line, int(w_in * 15)) or [""]):
                    fig.text(
                        (x_in + 0.1) / width,
                        1 - (y_in + 0.2 + (i + j) * 0.24) / height,
                        part,
                        va="center",
                        fontsize=10 if heading else 8,
                        fontweight="bold" if heading else "normal",
                        color="#16191f",
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
        if w["type"] == "log" and props.get("view") == "table":
            columns, rows = log_table(w, events)
            ax = fig.add_axes(box(x_in + 0.1, y_in + 0.38, w_in - 0.2, h_in - 0.45))
            _draw_table(ax, columns, rows, int((h_in - 0.45) / 0.2))
            continue
        series = log_series(w, events) if w["type"] == "log" else metric_series(w, store)
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
        "Rendered from the demo's decision records: each becomes its decision log line "
        "(decision_line) and each log widget's Logs Insights query is evaluated over those "
        "lines; the fleet counts are aggregated as CloudWatch would. Not a console screenshot.",
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


def _draw_table(ax: Any, columns: Sequence[str], rows: Sequence[Sequence[str]], fit: int) -> None:
    """A Logs Insights table: its header, then as many rows as the widget holds."""
    ax.axis("off")
    shown = list(rows[: max(1, fit - 1)])
    if not shown:
        ax.text(0, 1, "No data", va="top", fontsize=8, color="#545b64")
        return
    table = ax.table(cellText=shown, colLabels=list(columns), loc="upper left", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    for (r, _c), cell in table.get_celld().items():
        cell.set_edgecolor("#eaeded")
        cell.set_height(1 / max(fit, len(shown) + 1))
        if r == 0:
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("#fafafa")
    if len(rows) > len(shown):
        ax.text(1, 0, f"{len(rows) - len(shown)} more rows", ha="right", fontsize=7)


def _draw(
    ax: Any, series: Sequence[Series], props: Mapping[str, Any], t0: float, t1: float, mdates: Any
) -> None:
    def when(t: float) -> datetime:
        return datetime.fromtimestamp(t, UTC)

    if props.get("stacked"):
        # Stacked: each line on top of the ones before it, over the union of their buckets
        # (a bucket without data counts 0, as a count of decisions is).
        # The last bucket is drawn to its end (a step is drawn from its start to the next).
        starts = sorted({t for s in series for t, _ in s.points})
        period = max((s.period for s in series), default=0)
        base = [0.0] * len(starts)
        xs = [when(t) for t in [*starts, *starts[-1:]]]
        if starts:
            xs[-1] = when(starts[-1] + period)
        for s in series:
            values = dict(s.points)
            top = [b + values.get(t, 0.0) for b, t in zip(base, starts, strict=True)]
            ax.fill_between(
                xs, base + base[-1:], top + top[-1:], step="post", lw=0, alpha=0.8, label=s.label
            )
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
