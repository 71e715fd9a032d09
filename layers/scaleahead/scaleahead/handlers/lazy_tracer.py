"""Powertools' Tracer, made on first use instead of on import.

``Tracer()`` loads the X-Ray SDK, whose recorder builds a botocore client for the sampling
rules as it is constructed: about a third of the alarm function's cold import (issue 15).
Powertools already imports the SDK lazily, but its constructor undoes that. ``LazyTracer`` has
the calls the handlers make (``capture_lambda_handler``, ``capture_method``,
``put_annotation``); its decorators wrap a function at once and ask the real Tracer to wrap it
at its first call, so the Tracer (and its patching of botocore, which traces every AWS call) is
made when the first event arrives, before the handler does any work. Tracing is unchanged:
the same subsegments and annotations, the same ``POWERTOOLS_TRACE_DISABLED`` switch. Any other
attribute is the real Tracer's (``tracer.disabled`` makes it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from numbers import Number
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

F = TypeVar("F", bound=Callable[..., Any])


class LazyTracer:
    def __init__(self) -> None:
        self._tracer: Tracer | None = None

    @property
    def real(self) -> Tracer:
        """The Powertools Tracer, made (and botocore patched) on the first call."""
        if self._tracer is None:
            from aws_lambda_powertools.tracing import Tracer

            self._tracer = Tracer()
        return self._tracer

    def capture_lambda_handler(self, lambda_handler: F) -> F:
        """``Tracer.capture_lambda_handler`` (the handler's segment, ColdStart annotation)."""
        traced: Callable[..., Any] | None = None

        @functools.wraps(lambda_handler)
        def wrapper(event: Any, context: Any) -> Any:
            nonlocal traced
            if traced is None:
                traced = self.real.capture_lambda_handler(lambda_handler)
            return traced(event, context)

        return wrapper  # type: ignore[return-value]

    def capture_method(self, *, capture_response: bool | None = None) -> Callable[[F], F]:
        """``Tracer.capture_method``: a subsegment named after the function."""

        def decorate(method: F) -> F:
            traced: Callable[..., Any] | None = None

            @functools.wraps(method)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                nonlocal traced
                if traced is None:
                    traced = self.real.capture_method(capture_response=capture_response)(method)
                return traced(*args, **kwargs)

            return wrapper  # type: ignore[return-value]

        return decorate

    def put_annotation(self, key: str, value: str | Number | bool) -> None:
        self.real.put_annotation(key=key, value=value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)
