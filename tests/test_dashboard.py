"""The CloudWatch dashboard of template.yaml against what the code publishes and logs.

The dashboard body is a JSON string under !Sub: the tests substitute its variables with
plausible values (as CloudFormation would; a log group's ``Ref`` is its name), parse it, and
check two kinds of widgets.

Metric widgets plot only metrics the functions publish at the default MetricsLevel (fleet),
under the namespace and the exact dimension set they publish them with (a CloudWatch metric is
found only by its full dimension set), and all of them: the fleet counts ``ACTIONS_METRIC`` and
``NOT_SCALED_METRIC`` (dimension service), the literal ``add_metric(name=...)`` calls of the
handlers (read from their source so that a renamed metric breaks a test) and ColdStart. No
widget may need a metric with a Target dimension: those exist only at MetricsLevel per-target.

Logs Insights widgets (the per-target and All-targets rows) read only the worker's and the alarm
function's log groups, filter on the "decision" message, and query only fields the decision
line has: ``decision_line``'s keys, the figure names of ``DECISION_METRICS`` (``published``),
plus ``target``, ``kind``, ``message`` and ``@timestamp``, all derived from the code. Per-target
widgets filter on the Target id box's pattern, and between them show every figure. The queries
are parsed by the demo renderer's ``parse_query``, which refuses what it cannot evaluate, so
the template cannot use a query the drawing would get wrong.

Each check returns a list of problems; ``test_checks_catch`` shows that each one fails on a
broken dashboard.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import (
    AlarmInputs,
    DecisionRecord,
    Source,
    TickInputs,
    decision_line,
    published,
)
from scaleahead.domain.timing import MAX_AGE_SECONDS
from scaleahead.handlers.common import ACTIONS_METRIC, DECISION_METRICS, NOT_SCALED_METRIC
from scaleahead_testkit.local_aws import load_template
from scaleahead_tools.demo.dashboard import Query, UnsupportedQuery, parse_query

ROOT = Path(__file__).resolve().parents[1]
HANDLERS_DIR = ROOT / "layers" / "scaleahead" / "scaleahead" / "handlers"
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
GLOBAL_ENV = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
NAMESPACE: str = GLOBAL_ENV["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE: str = GLOBAL_ENV["POWERTOOLS_SERVICE_NAME"]

FUNCTIONS = ("AlarmFunction", "TickFunction", "WorkerFunction")
DLQS = ("WorkDLQ", "EventDLQ")
# Powertools' name, published when capture_cold_start_metric is on (not at MetricsLevel none)
COLD_START_METRIC = "ColdStart"
# The functions that write decision lines, by the log group each logs to.
DECISION_LOG_GROUPS = ("WorkerFunctionLogGroup", "AlarmFunctionLogGroup")

# ---------------------------------------------------------------- what the code publishes

# A literal metric name (the handlers) or an identifier holding one (common.py). Multiline calls
# (worker.py) are matched too.
_ADD_METRIC = re.compile(r"""add_metric\(\s*name=(?:["'](?P<literal>\w+)["']|(?P<ident>\w+))""")
# The identifiers common.py passes as names, which the imports above resolve.
_KNOWN_NAME_IDENTIFIERS = {"name", "ACTIONS_METRIC", "NOT_SCALED_METRIC"}


def _handler_sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(HANDLERS_DIR.glob("*.py"))}


def handler_metric_names(sources: dict[str, str]) -> set[str]:
    """The literal metric names the handlers publish (their function-level EMF metrics)."""
    return {
        m["literal"] for src in sources.values() for m in _ADD_METRIC.finditer(src) if m["literal"]
    }


def unresolved_metric_names(sources: dict[str, str]) -> list[str]:
    """``add_metric`` calls whose name neither a literal nor a known constant gives."""
    return [
        f"{file}: add_metric(name={m['ident']})"
        for file, src in sources.items()
        for m in _ADD_METRIC.finditer(src)
        if m["ident"] and m["ident"] not in _KNOWN_NAME_IDENTIFIERS
    ]


SOURCES = _handler_sources()
FLEET = {ACTIONS_METRIC, NOT_SCALED_METRIC}  # dimension service, at MetricsLevel fleet
HANDLER_METRICS = handler_metric_names(SOURCES)  # dimension service
COLD_START = (
    {COLD_START_METRIC}
    if any("capture_cold_start_metric=" in src for src in SOURCES.values())
    else set()
)
PUBLISHED = FLEET | HANDLER_METRICS | COLD_START

# The exact dimension names each metric the dashboard may plot is published with (Powertools
# adds "service").
DIMENSIONS: dict[str, frozenset[str]] = {
    **{name: frozenset({"service"}) for name in FLEET | HANDLER_METRICS},
    COLD_START_METRIC: frozenset({"service", "function_name"}),
}

# ---------------------------------------------------------------- what the code logs

# The base keys of a decision line: those of a record without any figure.
LINE_BASE = set(decision_line(DecisionRecord(Source.WORKER, Action.NONE, False, Reason.PLAN, "")))
FIGURES = set(DECISION_METRICS)  # the figures, each under its metric name when it has a value
# observe_decision adds the target's id and kind; Powertools logs the message "decision";
# Logs Insights discovers @timestamp.
LINE_FIELDS = LINE_BASE | FIGURES | {"target", "kind", "message", "@timestamp"}
DECISION_MESSAGE = "decision"

# ---------------------------------------------------------------- !Sub, as CloudFormation does it

REGION = "eu-west-3"
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::StackName": "scaleahead-test",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}
_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")


def fake_value(name: str) -> str:
    """A plausible resolved value of ``${name}`` (a Ref, a GetAtt or a pseudo parameter); a
    log group's Ref is its LogGroupName, resolved."""
    if name in PSEUDO:
        return PSEUDO[name]
    logical, _, attribute = name.partition(".")
    if logical not in RESOURCES and logical not in TEMPLATE.get("Parameters", {}):
        raise KeyError(f"${{{name}}} is neither a resource, a parameter nor a pseudo parameter")
    if attribute == "Arn":
        return f"arn:aws:fake:{REGION}:123456789012:{logical}"
    resource = RESOURCES.get(logical, {})
    if not attribute and resource.get("Type") == "AWS::Logs::LogGroup":
        # A log group's Ref is its name.
        return substitute(_sub_string(resource["Properties"]["LogGroupName"]))
    return f"scaleahead-test-{logical}{attribute}-1A2B3C"


def substitute(text: str) -> str:
    """``${Name}`` resolved, ``${!Literal}`` kept as ``${Literal}``."""
    return _SUB_VARIABLE.sub(
        lambda m: "${" + m[2] + "}" if m[1] else fake_value(m[2]),
        text,
    )


def _sub_string(value: Any) -> str:
    assert isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str), value
    text: str = value["Fn::Sub"]
    return text


DASHBOARD = RESOURCES["Dashboard"]


@pytest.fixture
def body() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(
        substitute(_sub_string(DASHBOARD["Properties"]["DashboardBody"]))
    )
    return parsed


# ---------------------------------------------------------------- reading the body


@dataclass(frozen=True)
class Metric:
    widget: str
    namespace: str
    name: str
    dimensions: dict[str, str]
    options: dict[str, Any]


@dataclass(frozen=True)
class Search:
    where: str
    namespace: str
    dimensions: frozenset[str]
    name: str
    text: str


def metric_widgets(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from (w for w in body["widgets"] if w["type"] == "metric")


def log_widgets(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from (w for w in body["widgets"] if w["type"] == "log")


def metrics(body: dict[str, Any]) -> Iterator[Metric]:
    """Every plain metric row; "." repeats the previous row's value at the same position."""
    for widget in metric_widgets(body):
        previous: list[str] = []
        for row in widget["properties"].get("metrics", []):
            parts = [p for p in row if isinstance(p, str)]
            if not parts:  # an expression row
                continue
            parts = [
                previous[i] if p == "." and i < len(previous) else p for i, p in enumerate(parts)
            ]
            previous = parts
            namespace, name, *dims = parts
            options = row[-1] if isinstance(row[-1], dict) else {}
            title = widget["properties"].get("title", "")
            yield Metric(
                title, namespace, name, dict(zip(dims[::2], dims[1::2], strict=True)), options
            )


_SEARCH_SCHEMA = re.compile(r"\{(?P<schema>[^{}]+)\}[^{}']*?MetricName\s*=\s*\"(?P<name>[^\"]+)\"")


def _searches_in(where: str, text: str) -> Iterator[Search]:
    for m in _SEARCH_SCHEMA.finditer(text):
        namespace, *dims = (part.strip() for part in m["schema"].split(","))
        yield Search(where, namespace, frozenset(dims), m["name"], text)


def searches(body: dict[str, Any]) -> Iterator[Search]:
    """Every metric search: SEARCH() expressions and the variables' value searches."""
    for widget in metric_widgets(body):
        for row in widget["properties"].get("metrics", []):
            for item in row:
                if isinstance(item, dict) and "expression" in item:
                    yield from _searches_in(widget["properties"]["title"], item["expression"])
    for variable in body.get("variables", []):
        if "search" in variable:
            yield from _searches_in(f"variable {variable.get('id')}", variable["search"])


def referenced_names(body: dict[str, Any]) -> set[str]:
    return {m.name for m in metrics(body) if m.namespace == NAMESPACE} | {
        s.name for s in searches(body) if s.namespace == NAMESPACE
    }


def queries(body: dict[str, Any]) -> Iterator[tuple[str, Query | UnsupportedQuery]]:
    """Each log widget's title and its parsed query (or why it does not parse)."""
    for widget in log_widgets(body):
        title = str(widget["properties"].get("title", ""))
        try:
            yield title, parse_query(str(widget["properties"].get("query", "")))
        except UnsupportedQuery as err:
            yield title, err


def parsed(body: dict[str, Any]) -> Iterator[tuple[str, Query]]:
    yield from ((t, q) for t, q in queries(body) if isinstance(q, Query))


def _pattern_variables(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in body.get("variables", []) if v.get("type") == "pattern"]


def _placeholder(body: dict[str, Any]) -> str | None:
    variables = _pattern_variables(body)
    return str(variables[0].get("pattern")) if len(variables) == 1 else None


def per_target_queries(body: dict[str, Any]) -> list[tuple[str, Query]]:
    """The log widgets that filter on one target: ``target = <the variable's pattern>``."""
    placeholder = _placeholder(body)
    return [(t, q) for t, q in parsed(body) if ("target", placeholder) in q.filters]


# ---------------------------------------------------------------- checks (each returns problems)


def unknown_metrics(body: dict[str, Any]) -> list[str]:
    """Names the dashboard plots in our namespace that no code publishes at the fleet level."""
    return sorted(referenced_names(body) - PUBLISHED)


def missing_metrics(body: dict[str, Any]) -> list[str]:
    """Published names the dashboard does not plot."""
    return sorted(PUBLISHED - referenced_names(body))


def dimension_problems(body: dict[str, Any]) -> list[str]:
    """Our metrics referenced with other dimensions (or a service value) than published: a
    Target dimension, in particular, exists only at MetricsLevel per-target."""
    problems = []
    for m in metrics(body):
        if m.namespace != NAMESPACE:
            continue
        if frozenset(m.dimensions) != DIMENSIONS.get(m.name):
            problems.append(f"{m.widget}: {m.name} with dimensions {sorted(m.dimensions)}")
        if m.dimensions.get("service") != SERVICE:
            problems.append(f"{m.widget}: {m.name} with service={m.dimensions.get('service')}")
    for s in searches(body):
        if s.namespace == NAMESPACE and s.dimensions != DIMENSIONS.get(s.name):
            problems.append(f"{s.where}: search of {s.name} over {sorted(s.dimensions)}")
    return problems


def target_variable_problems(body: dict[str, Any]) -> list[str]:
    """One free-text *pattern* variable (it rewrites its placeholder everywhere in the body,
    inside the log queries too), the target filter of every per-target widget. No metric
    search can list the targets any more, so no search fills it."""
    variables = _pattern_variables(body)
    if len(variables) != 1:
        return [f"{len(variables)} pattern variables, want 1 (the target id)"]
    (v,) = variables
    problems = []
    if v.get("inputType") != "input":
        problems.append(f"inputType {v.get('inputType')!r}, want 'input' (free text)")
    for key in ("search", "populateFrom", "values"):
        if key in v:
            problems.append(f"{key} {v[key]!r}: nothing to choose from")
    if not isinstance(v.get("defaultValue"), str) or not v["defaultValue"]:
        problems.append(f"defaultValue {v.get('defaultValue')!r}: want text")
    if len(per_target_queries(body)) < 4:
        problems.append(
            f"pattern {v.get('pattern')!r} filters {len(per_target_queries(body))} widgets"
        )
    return problems


def log_field_problems(body: dict[str, Any]) -> list[str]:
    """Each log query parses (the renderer's subset) and reads only decision-line fields."""
    problems = []
    for title, query in queries(body):
        if isinstance(query, UnsupportedQuery):
            problems.append(f"{title}: {query}")
            continue
        for field in sorted(query.fields - LINE_FIELDS):
            problems.append(f"{title}: {field!r} is no field of the decision line")
    return problems


def decision_log_groups() -> set[str]:
    return {fake_value(logical) for logical in DECISION_LOG_GROUPS}


def log_source_problems(body: dict[str, Any]) -> list[str]:
    """Each log query reads exactly the worker's and the alarm function's log groups (those
    with decision lines: no more is scanned, and is paid for, than needed) and only the
    decision lines."""
    problems = []
    for title, query in parsed(body):
        if set(query.sources) != decision_log_groups():
            problems.append(f"{title}: SOURCE {sorted(query.sources)}")
        if ("message", DECISION_MESSAGE) not in query.filters:
            problems.append(f"{title}: not filtered on message = {DECISION_MESSAGE!r}")
    return problems


def per_target_problems(body: dict[str, Any]) -> list[str]:
    """Each log widget is either about one target (filtered on the box's pattern) or about
    every target one by one (grouped by target), never every target mixed; between them the
    per-target widgets show every figure, and the All-targets table each target's latest
    actual, desired and planned capacity and forecast error."""
    problems = []
    one = per_target_queries(body)
    for title, query in parsed(body):
        if (title, query) not in one and "target" not in query.by:
            problems.append(f"{title}: neither filtered on the target nor grouped by it")
    shown = {a.field for _, q in one for a in q.aggregations}
    problems += [f"{name} is not shown per target" for name in sorted(FIGURES - shown)]
    latest = {
        a.field
        for _, q in parsed(body)
        if q.by == ("target",) and q.bin_column is None
        for a in q.aggregations
        if a.function == "latest"
    }
    want = {"ActualCapacity", "DesiredCapacity", "PlannedCapacity", "ForecastErrorPercent"}
    problems += [f"no table of the latest {name} by target" for name in sorted(want - latest)]
    return problems


def resource_problems(body: dict[str, Any]) -> list[str]:
    """The three functions' Lambda metrics and cold starts, the DLQs' depth, the queue's age."""
    seen: dict[tuple[str, str, str], list[Metric]] = {}
    for m in metrics(body):
        for dim, value in m.dimensions.items():
            seen.setdefault((m.name, dim, value), []).append(m)
    want = [
        (name, "FunctionName", fn)
        for fn in FUNCTIONS
        for name in ("Errors", "Throttles", "Duration", "Invocations")
    ]
    want += [(COLD_START_METRIC, "function_name", fn) for fn in FUNCTIONS]
    want += [("ApproximateNumberOfMessagesVisible", "QueueName", q) for q in DLQS]
    want += [("ApproximateAgeOfOldestMessage", "QueueName", "WorkQueue")]
    problems = []
    for name, dim, logical in want:
        resolved = fake_value(f"{logical}.QueueName" if dim == "QueueName" else logical)
        if (name, dim, resolved) not in seen:
            problems.append(f"no {name} of {logical}")
    for fn in FUNCTIONS:
        stats = {
            m.options.get("stat")
            for m in seen.get(("Duration", "FunctionName", fake_value(fn)), [])
        }
        if "p99" not in stats or not stats & {"Maximum", "Average"}:
            problems.append(f"Duration of {fn}: stats {sorted(map(str, stats))}")
    return problems


def region_problems(body: dict[str, Any]) -> list[str]:
    return [
        f"{w['properties'].get('title')}: region {w['properties'].get('region')!r}"
        for w in body["widgets"]
        if w["type"] in {"metric", "log"} and w["properties"].get("region") != REGION
    ]


def view_problems(body: dict[str, Any]) -> list[str]:
    """Log widgets with a view the console knows (table, timeSeries, bar, pie); a timeSeries
    needs a bin() and at most one more group field (one line per value)."""
    problems = []
    for widget in log_widgets(body):
        props = widget["properties"]
        if props.get("view") not in {"table", "timeSeries", "bar", "pie"}:
            problems.append(f"{props.get('title')}: view {props.get('view')!r}")
    for title, query in parsed(body):
        (widget,) = [w for w in log_widgets(body) if w["properties"].get("title") == title]
        if widget["properties"].get("view") == "timeSeries" and (
            query.bin_column is None or len(query.by) > 1
        ):
            problems.append(f"{title}: a timeSeries of {query.columns}")
    return problems


def layout_problems(body: dict[str, Any]) -> list[str]:
    """Widgets inside the 24-column grid, none on top of another."""
    problems = []
    cells: dict[tuple[int, int], int] = {}
    for i, w in enumerate(body["widgets"]):
        x, y, width, height = w["x"], w["y"], w["width"], w["height"]
        if x < 0 or y < 0 or width < 1 or height < 1 or x + width > 24:
            problems.append(f"widget {i} outside the grid")
        for cell in ((cx, cy) for cx in range(x, x + width) for cy in range(y, y + height)):
            if cell in cells:
                problems.append(f"widgets {cells[cell]} and {i} overlap at {cell}")
                break
            cells[cell] = i
    return problems


_DYNAMIC_LABEL = re.compile(r"\$\{PROP\('[^']+'\)\}")


def literal_dollar_problems(body: Any, key: str = "") -> list[str]:
    """``${...}`` left after !Sub: allowed only as a dynamic label (an escaped ``${!PROP(..)}``)."""
    if isinstance(body, dict):
        return [p for k, v in body.items() for p in literal_dollar_problems(v, k)]
    if isinstance(body, list):
        return [p for v in body for p in literal_dollar_problems(v, key)]
    if isinstance(body, str) and "${" in (body if key != "label" else _DYNAMIC_LABEL.sub("", body)):
        return [f"{key}: {body}"]
    return []


CHECKS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "unknown": unknown_metrics,
    "missing": missing_metrics,
    "dimensions": dimension_problems,
    "variable": target_variable_problems,
    "fields": log_field_problems,
    "sources": log_source_problems,
    "per_target": per_target_problems,
    "views": view_problems,
    "resources": resource_problems,
    "region": region_problems,
    "layout": layout_problems,
    "dollar": literal_dollar_problems,
}

# ---------------------------------------------------------------- tests


def test_dashboard_body_is_valid_json_after_sub(body: dict[str, Any]) -> None:
    assert DASHBOARD["Type"] == "AWS::CloudWatch::Dashboard"
    assert isinstance(body["widgets"], list) and body["widgets"]


def test_dashboard_name_is_valid() -> None:
    name = substitute(_sub_string(DASHBOARD["Properties"]["DashboardName"]))
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", name), name


def test_handler_metric_names_are_all_read() -> None:
    assert unresolved_metric_names(SOURCES) == []
    # One per handler at least: the regex must see the metrics of every function.
    assert {"RejectedEvents", "AlarmSignals", "TargetsEnqueued", "WorkItems"} <= HANDLER_METRICS
    assert COLD_START_METRIC in COLD_START


def test_line_fields_come_from_the_code() -> None:
    """A full decision's line holds the base keys and, under their metric names, exactly the
    figures ``published`` sends: the field set the checks use is the code's."""
    tick = DecisionRecord(
        Source.WORKER,
        Action.SCALE_OUT,
        True,
        Reason.PLAN,
        "",
        before=2,
        after=3,
        inputs=TickInputs(
            plan=3, observed_load=1.0, forecast_now=2.0, forecast_upper_now=3.0, forecast_error=0.1
        ),
    )
    alarm = DecisionRecord(
        Source.ALARM,
        Action.SCALE_OUT,
        True,
        Reason.REACTIVE_FLOOR,
        "",
        before=3,
        after=5,
        inputs=AlarmInputs(observed_load=9.0),
    )
    for record in (tick, alarm):
        line = decision_line(record)
        assert set(line) - LINE_BASE == {name for name, _, _ in published(record)}
    assert set(decision_line(tick)) == LINE_BASE | FIGURES  # a tick reports every figure
    assert {"source", "action", "executed", "reason"} <= LINE_BASE


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_dashboard(check: str, body: dict[str, Any]) -> None:
    assert CHECKS[check](body) == []


def test_queries_read_the_templates_log_groups(body: dict[str, Any]) -> None:
    stack = PSEUDO["AWS::StackName"]
    assert decision_log_groups() == {
        f"/aws/lambda/{stack}/WorkerFunction",
        f"/aws/lambda/{stack}/AlarmFunction",
    }
    assert len(list(parsed(body))) == len(list(log_widgets(body))) > 0


def test_queue_age_marks_when_work_goes_stale(body: dict[str, Any]) -> None:
    (widget,) = [
        w
        for w in metric_widgets(body)
        if any("ApproximateAgeOfOldestMessage" in row for row in w["properties"]["metrics"])
    ]
    marks = [a["value"] for a in widget["properties"]["annotations"]["horizontal"]]
    assert MAX_AGE_SECONDS in marks


def test_dashboard_url_output() -> None:
    url = substitute(_sub_string(TEMPLATE["Outputs"]["DashboardUrl"]["Value"]))
    name = fake_value("Dashboard")
    assert url == (
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
        f"#dashboards:name={name}"
    )


# ---------------------------------------------------------------- the checks can fail


def _rows(body: dict[str, Any]) -> Iterator[list[Any]]:
    for widget in metric_widgets(body):
        yield from widget["properties"]["metrics"]


def _drop_metric(name: str) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        for widget in metric_widgets(body):
            rows = widget["properties"]["metrics"]
            rows[:] = [r for r in rows if name not in r]

    mutate.__name__ = f"drop_{name}"
    return mutate


def _rename_metric(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        for row in _rows(body):
            row[:] = [new if p == old else p for p in row]

    mutate.__name__ = f"rename_{old}"
    return mutate


def _edit_queries(old: str, new: str, count: int = -1) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        left = count
        for widget in log_widgets(body):
            props = widget["properties"]
            if left != 0 and old in props["query"]:
                props["query"] = props["query"].replace(old, new)
                left -= 1

    mutate.__name__ = "query_" + re.sub(r"\W+", "_", old)[:30]
    return mutate


def _per_target_fleet_metric(body: dict[str, Any]) -> None:
    for row in _rows(body):
        if ACTIONS_METRIC in row:
            row[-1:-1] = ["Target", "pick-a-target"]


def _wrong_service(body: dict[str, Any]) -> None:
    _rename_metric(SERVICE, "other-service")(body)


def _other_pattern(body: dict[str, Any]) -> None:
    body["variables"][0]["pattern"] = "some-other-text"


def _searched_variable(body: dict[str, Any]) -> None:
    body["variables"][0].update(
        inputType="select",
        search='{Scaleahead,Target,service} MetricName="ActualCapacity"',
        populateFrom="Target",
    )


def _tick_log_group(body: dict[str, Any]) -> None:
    _edit_queries(fake_value("WorkerFunctionLogGroup"), fake_value("TickFunctionLogGroup"))(body)


def _forget_worker(body: dict[str, Any]) -> None:
    _rename_metric(fake_value("WorkerFunction"), fake_value("TickFunction"))(body)


def _average_duration_only(body: dict[str, Any]) -> None:
    for row in _rows(body):
        if "Duration" in row:
            row[-1]["stat"] = "Average"


def _hardcoded_region(body: dict[str, Any]) -> None:
    next(log_widgets(body))["properties"]["region"] = "us-east-1"


def _bar_per_target(body: dict[str, Any]) -> None:
    next(log_widgets(body))["properties"]["view"] = "line"


def _overlap(body: dict[str, Any]) -> None:
    body["widgets"][-1].update(x=0, y=0)


def _unescaped_label(body: dict[str, Any]) -> None:
    for row in _rows(body):
        if isinstance(row[-1], dict):
            row[-1]["label"] = "${AlarmFunction}"


BREAKAGES: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("missing", _drop_metric("NotScaled")),
    ("missing", _drop_metric("InvalidTargets")),
    ("unknown", _rename_metric("Actions", "ActionsTaken")),
    ("dimensions", _per_target_fleet_metric),
    ("dimensions", _wrong_service),
    ("fields", _edit_queries("ForecastUpperLoad", "ForecastUpperBound")),
    ("fields", _edit_queries("and target =", "and Target =")),
    ("fields", _edit_queries("| stats", "| fields @message | stats", 1)),
    ("sources", _tick_log_group),
    ("sources", _edit_queries(f" | SOURCE '{fake_value('AlarmFunctionLogGroup')}'", "", 1)),
    ("sources", _edit_queries("message = 'decision' and ", "", 1)),
    ("per_target", _edit_queries(", avg(ObservedLoad) as observed", "")),
    ("per_target", _edit_queries(" and target = 'pick-a-target'", "", 1)),
    ("per_target", _edit_queries("latest(PlannedCapacity)", "avg(PlannedCapacity)")),
    ("variable", _other_pattern),
    ("variable", _searched_variable),
    ("views", _bar_per_target),
    ("views", _edit_queries("by bin(1m)", "by reason", 1)),
    ("resources", _forget_worker),
    ("resources", _drop_metric("ApproximateAgeOfOldestMessage")),
    ("resources", _average_duration_only),
    ("region", _hardcoded_region),
    ("layout", _overlap),
    ("dollar", _unescaped_label),
    ("dollar", _edit_queries("'decision'", "'${Decision}'", 1)),
]


@pytest.mark.parametrize(
    ("check", "breakage"),
    BREAKAGES,
    ids=[f"{c}-{i}-{b.__name__}" for i, (c, b) in enumerate(BREAKAGES)],
)
def test_checks_catch(
    check: str, breakage: Callable[[dict[str, Any]], None], body: dict[str, Any]
) -> None:
    broken = copy.deepcopy(body)
    breakage(broken)
    assert broken != body, "the breakage changed nothing"
    assert CHECKS[check](broken) != []


def test_sub_rejects_unknown_names() -> None:
    with pytest.raises(KeyError):
        substitute('{"region": "${NoSuchResource}"}')
    assert (
        substitute("${!PROP('Dim.Reason')} ${AWS::Region}") == f"${{PROP('Dim.Reason')}} {REGION}"
    )


def test_handler_metric_regex() -> None:
    src = (
        'metrics.add_metric(\n    name="Foo", unit=MetricUnit.Count, value=1\n)\n'
        "m.add_metric(name=BAR)\n"
    )
    assert handler_metric_names({"x.py": src}) == {"Foo"}
    assert unresolved_metric_names({"x.py": src}) == ["x.py: add_metric(name=BAR)"]
