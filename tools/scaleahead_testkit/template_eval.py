"""The few CloudFormation intrinsics template.yaml's settings use, resolved for given parameters.

The cost model and the tests ask what a function is configured with at some parameter values
(is it traced at ``Tracing=alarm``? which environment does it see?). CloudFormation decides
that with ``Ref``, ``Fn::If`` and the conditions; this resolves exactly those (``Fn::Equals``,
``Fn::Not``, ``Fn::And``, ``Fn::Or``) and refuses anything else, so a template that outgrows it
fails loudly rather than being read wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class Unresolved(ValueError):
    """The value uses an intrinsic this module does not resolve."""


def parameters(template: Mapping[str, Any], **given: object) -> dict[str, object]:
    """Every parameter's value: ``given``, else its default."""
    out: dict[str, object] = {
        name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
    }
    unknown = set(given) - set(out)
    if unknown:
        raise KeyError(f"no such parameters: {sorted(unknown)}")
    out.update(given)
    return out


def resolve(template: Mapping[str, Any], value: Any, params: Mapping[str, object]) -> Any:
    """``value`` with its ``Ref``s to parameters and its ``Fn::If``s resolved."""
    if isinstance(value, list):
        return [resolve(template, v, params) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in params:
        return params[value["Ref"]]
    if set(value) == {"Fn::If"}:
        name, yes, no = value["Fn::If"]
        return resolve(template, yes if condition(template, name, params) else no, params)
    if any(k.startswith("Fn::") or k == "Ref" for k in value):
        raise Unresolved(f"cannot resolve {value}")
    return {k: resolve(template, v, params) for k, v in value.items()}


def condition(template: Mapping[str, Any], name: str, params: Mapping[str, object]) -> bool:
    """Whether the template's condition ``name`` holds at ``params``."""
    return _truth(template, template["Conditions"][name], params)


def _truth(template: Mapping[str, Any], expr: Any, params: Mapping[str, object]) -> bool:
    if isinstance(expr, dict) and len(expr) == 1:
        [(fn, args)] = expr.items()
        if fn == "Condition":
            return condition(template, args, params)
        if fn == "Fn::Equals":
            a, b = (resolve(template, x, params) for x in args)
            return str(a) == str(b)  # CloudFormation compares parameter values as strings
        if fn == "Fn::Not":
            return not _truth(template, args[0], params)
        if fn == "Fn::And":
            return all(_truth(template, x, params) for x in args)
        if fn == "Fn::Or":
            return any(_truth(template, x, params) for x in args)
    raise Unresolved(f"cannot evaluate the condition {expr}")


def function_property(
    template: Mapping[str, Any],
    function: str,
    key: str,
    params: Mapping[str, object],
    default: Any = None,
) -> Any:
    """A ``AWS::Serverless::Function`` property, its own over the Globals' (as SAM merges a
    scalar), resolved at ``params``."""
    props = template["Resources"][function]["Properties"]
    glob = template.get("Globals", {}).get("Function", {})
    return resolve(template, props.get(key, glob.get(key, default)), params)


def function_environment(
    template: Mapping[str, Any],
    function: str,
    params: Mapping[str, object],
    placeholder: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """The variables ``function`` sees: the Globals', then its own over them (SAM merges the
    two maps), resolved at ``params``. A variable naming a resource (a ``Ref`` to it) is
    ``placeholder(name)``; without a placeholder it raises ``Unresolved``."""
    glob = template.get("Globals", {}).get("Function", {})
    own = template["Resources"][function]["Properties"]
    merged = {
        **glob.get("Environment", {}).get("Variables", {}),
        **own.get("Environment", {}).get("Variables", {}),
    }
    out: dict[str, Any] = {}
    for name, value in merged.items():
        try:
            out[name] = resolve(template, value, params)
        except Unresolved:
            if placeholder is None:
                raise
            out[name] = placeholder(name)
    return out
