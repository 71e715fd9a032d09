"""The CloudWatch dashboard of template.yaml against the metrics the code publishes.

The dashboard body is a JSON string under !Sub: the tests substitute its variables with
plausible values (as CloudFormation would), parse it, and check that it plots every metric the
functions publish, under the namespace and the exact dimension set they publish it with (a
CloudWatch metric is found only by its full dimension set), and nothing else. The names come from
the code: ``DECISION_METRICS``, ``ACTIONS_METRIC`` and ``NOT_SCALED_METRIC``, plus the literal
``add_metric(name=...)`` calls of the handlers, read from their source so that a renamed metric
breaks a test. Each check returns a list of problems; ``test_checks_catch`` shows that each one
fails on a broken dashboard.
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

from scaleahead.domain.timing import MAX_AGE_SECONDS
from scaleahead.handlers.common import ACTIONS_METRIC, DECISION_METRICS, NOT_SCALED_METRIC
from scaleahead_testkit.local_aws import load_template

ROOT = Path(__file__).resolve().parents[1]
HANDLERS_DIR = ROOT / "layers" / "scaleahead" / "scaleahead" / "handlers"
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
GLOBAL_ENV = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
NAMESPACE: str = GLOBAL_ENV["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE: str = GLOBAL_ENV["POWERTOOLS_SERVICE_NAME"]

FUNCTIONS = ("AlarmFunction", "TickFunction", "WorkerFunction")
DLQS = ("WorkDLQ", "EventDLQ")
COLD_START_METRIC = "ColdStart"  # Powertools' name, published by capture_cold_start_metric=True

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
PER_TARGET = {*DECISION_METRICS, ACTIONS_METRIC}  # dimensions service, Target
HANDLER_METRICS = handler_metric_names(SOURCES)  # dimension service
COLD_START = (
    {COLD_START_METRIC}
    if any("capture_cold_start_metric=True" in src for src in SOURCES.values())
    else set()
)
PUBLISHED = PER_TARGET | {NOT_SCALED_METRIC} | HANDLER_METRICS | COLD_START

# The exact dimension names each metric is published with (Powertools adds "service").
DIMENSIONS: dict[str, frozenset[str]] = {
    **{name: frozenset({"service", "Target"}) for name in PER_TARGET},
    NOT_SCALED_METRIC: frozenset({"service", "Target", "Reason"}),
    **{name: frozenset({"service"}) for name in HANDLER_METRICS},
    COLD_START_METRIC: frozenset({"service", "function_name"}),
}

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
    """A plausible resolved value of ``${name}`` (a Ref, a GetAtt or a pseudo parameter)."""
    if name in PSEUDO:
        return PSEUDO[name]
    logical, _, attribute = name.partition(".")
    if logical not in RESOURCES and logical not in TEMPLATE.get("Parameters", {}):
        raise KeyError(f"${{{name}}} is neither a resource, a parameter nor a pseudo parameter")
    if attribute == "Arn":
        return f"arn:aws:fake:{REGION}:123456789012:{logical}"
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


# ---------------------------------------------------------------- checks (each returns problems)


def unknown_metrics(body: dict[str, Any]) -> list[str]:
    """Names the dashboard plots in our namespace that no code publishes."""
    return sorted(referenced_names(body) - PUBLISHED)


def missing_metrics(body: dict[str, Any]) -> list[str]:
    """Published names the dashboard does not plot."""
    return sorted(PUBLISHED - referenced_names(body))


def dimension_problems(body: dict[str, Any]) -> list[str]:
    """Our metrics referenced with other dimensions (or a service value) than published."""
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


def _target_variables(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in body.get("variables", []) if v.get("populateFrom") == "Target"]


def target_variable_problems(body: dict[str, Any]) -> list[str]:
    """One drop-down variable of target ids, filled by a metric search. A *pattern* variable:
    it rewrites its placeholder everywhere in the body, inside SEARCH expressions too (a
    property variable would change only the Target dimension of plain metric rows)."""
    variables = _target_variables(body)
    if len(variables) != 1:
        return [f"{len(variables)} variables of Target values, want 1"]
    (v,) = variables
    problems = []
    if v.get("type") != "pattern":
        problems.append(f"type {v.get('type')!r}, want 'pattern'")
    placeholder = v.get("pattern")
    rows = [m for m in metrics(body) if m.name in PER_TARGET]
    if not placeholder or any(m.dimensions.get("Target") != placeholder for m in rows):
        problems.append(f"pattern {placeholder!r} is not the Target of every per-target row")
    if not any(f'Target="{placeholder}"' in s.text for s in searches(body)):
        problems.append(f"pattern {placeholder!r} does not pick the target in the by-reason search")
    if v.get("inputType") not in {"select", "radio"}:
        problems.append(f"inputType {v.get('inputType')!r}: not a choice of searched values")
    if v.get("populateFrom") != "Target":
        problems.append(f"populateFrom {v.get('populateFrom')!r}, want 'Target'")
    found = list(_searches_in("variable", v.get("search", "")))
    if not any(s.namespace == NAMESPACE and "Target" in s.dimensions for s in found):
        problems.append(f"search {v.get('search')!r} does not list {NAMESPACE} targets")
    return problems


def per_target_problems(body: dict[str, Any]) -> list[str]:
    """Each per-target metric is plotted for one target, the one the Target variable picks.

    The Target variable rewrites its placeholder wherever it appears, so a per-target widget
    is one whose rows carry that dimension; the by-reason search filters on it.
    """
    plotted = {m.name for m in metrics(body) if m.name in PER_TARGET and m.dimensions.get("Target")}
    problems = [f"{name} is not plotted per target" for name in sorted(PER_TARGET - plotted)]
    by_reason = [
        s
        for s in searches(body)
        if s.name == NOT_SCALED_METRIC and re.search(r'\bTarget\s*=\s*"[^"]+"', s.text)
    ]
    if not by_reason:
        problems.append(f"no SEARCH of {NOT_SCALED_METRIC} filtered on one Target")
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
        for w in metric_widgets(body)
        if w["properties"].get("region") != REGION
    ]


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
    "per_target": per_target_problems,
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


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_dashboard(check: str, body: dict[str, Any]) -> None:
    assert CHECKS[check](body) == []


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


def _drop_target_dimension(body: dict[str, Any]) -> None:
    for row in _rows(body):
        if "ForecastLoad" in row:
            i = row.index("Target")
            del row[i : i + 2]


def _unfilter_not_scaled(body: dict[str, Any]) -> None:
    for row in _rows(body):
        for item in row:
            if isinstance(item, dict) and NOT_SCALED_METRIC in item.get("expression", ""):
                item["expression"] = re.sub(r'\s*Target="[^"]*"', "", item["expression"])


def _wrong_service(body: dict[str, Any]) -> None:
    _rename_metric(SERVICE, "other-service")(body)


def _lowercase_variable(body: dict[str, Any]) -> None:
    body["variables"][0]["pattern"] = "some-other-text"


def _free_text_variable(body: dict[str, Any]) -> None:
    body["variables"][0]["inputType"] = "input"


def _forget_worker(body: dict[str, Any]) -> None:
    _rename_metric(fake_value("WorkerFunction"), fake_value("TickFunction"))(body)


def _average_duration_only(body: dict[str, Any]) -> None:
    for row in _rows(body):
        if "Duration" in row:
            row[-1]["stat"] = "Average"


def _hardcoded_region(body: dict[str, Any]) -> None:
    next(metric_widgets(body))["properties"]["region"] = "us-east-1"


def _overlap(body: dict[str, Any]) -> None:
    body["widgets"][-1].update(x=0, y=0)


def _unescaped_label(body: dict[str, Any]) -> None:
    for row in _rows(body):
        if isinstance(row[-1], dict):
            row[-1]["label"] = "${AlarmFunction}"


BREAKAGES: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("missing", _drop_metric("ObservedLoad")),
    ("missing", _drop_metric("InvalidTargets")),
    ("unknown", _rename_metric("ForecastUpperLoad", "ForecastUpperBound")),
    ("dimensions", _drop_target_dimension),
    ("dimensions", _wrong_service),
    ("per_target", _drop_target_dimension),
    ("per_target", _unfilter_not_scaled),
    ("variable", _lowercase_variable),
    ("variable", _free_text_variable),
    ("resources", _forget_worker),
    ("resources", _drop_metric("ApproximateAgeOfOldestMessage")),
    ("resources", _average_duration_only),
    ("region", _hardcoded_region),
    ("layout", _overlap),
    ("dollar", _unescaped_label),
]


@pytest.mark.parametrize(
    ("check", "breakage"), BREAKAGES, ids=[f"{c}-{b.__name__}" for c, b in BREAKAGES]
)
def test_checks_catch(
    check: str, breakage: Callable[[dict[str, Any]], None], body: dict[str, Any]
) -> None:
    broken = copy.deepcopy(body)
    breakage(broken)
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
