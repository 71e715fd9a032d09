"""Faults injected at botocore's HTTP layer, ahead of moto: throttling, 5xx, timeouts, crashes.

The injector takes the place of moto's own ``before-send`` handler (the event botocore emits
just before the HTTP request leaves, where moto answers it) and either hands the request on to
moto or returns an error response or raises a network error instead; moto never sees a request
that failed, as AWS would not have. (Registered beside moto's rather than in its place, moto
would still execute the request: botocore calls every ``before-send`` handler.)

Everything above it is the real thing: botocore's retry handler (adaptive mode, 5 attempts, as
``scaleahead.aws.clients`` configures it) sees the error, backs off and retries; the parser
turns the response into the ClientError the code would get from AWS. Only the back-off sleep
is recorded instead of slept (the ``faults`` fixture), so the tests stay fast.

A *crash* is the process dying at a call: that call (``crash``) never reaches AWS, or
(``crash_after``) reaches it and the reply is lost; either way every later call from the
process fails too, so nothing more is written, not even a ``finally``'s lease release.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.endpoint
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.handlers import BUILTIN_HANDLERS
from botocore.retries.adaptive import ClientRateLimiter
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber

from scaleahead.handlers import common


@functools.cache
def _protocol(service: str) -> str:
    """The wire protocol botocore speaks to ``service`` (how an error body must be written)."""
    model = botocore.session.get_session().get_service_model(service)
    return str(model.resolved_protocol)


KINDS = ("throttle", "5xx", "timeout")


class Crash(BaseException):
    """The Lambda process died (timeout, out of memory, a host failure) at this point.

    A BaseException, as a real death is not an error any ``except Exception`` could handle."""


def _cbor_text(s: str) -> bytes:
    data = s.encode()
    n = len(data)
    head = (
        bytes([0x60 + n])
        if n < 24
        else bytes([0x78, n])
        if n < 256
        else bytes([0x79]) + n.to_bytes(2, "big")
    )
    return head + data


def _cbor_map(d: dict[str, str]) -> bytes:
    out = bytes([0xA0 + len(d)])
    for k, v in d.items():
        out += _cbor_text(k) + _cbor_text(v)
    return out


def _error(service: str, code: str, status: int, message: str) -> tuple[dict[str, str], bytes]:
    protocol = _protocol(service)
    if protocol in ("query", "ec2"):
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
        ).encode()
        return {"Content-Type": "text/xml"}, body
    if protocol == "smithy-rpc-v2-cbor":
        return (
            {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"},
            _cbor_map({"__type": code, "message": message}),
        )
    return (
        {"Content-Type": "application/x-amz-json-1.0"},
        json.dumps({"__type": code, "message": message}).encode(),
    )


def _response(
    request: AWSPreparedRequest, status: int, headers: dict[str, str], body: bytes
) -> AWSResponse:
    return AWSResponse(request.url, status, HTTPHeaders(headers), MockRawResponse(body))  # type: ignore[arg-type]


@dataclass
class Rule:
    service: str  # botocore's hyphenised service id: "dynamodb", "ecs", "cloudwatch"...
    operation: str  # "PutItem", "UpdateService"...
    # throttle | 5xx | timeout | connect | denied (the request never reaches AWS) | lost_reply
    # (it does, botocore sees a timeout) | crash | crash_after (the process dies)
    kind: str
    times: int = 1  # how many matching calls fail (0: every one)
    nth: int = 1  # the first matching call that fails (1-based)
    when: Callable[[AWSPreparedRequest], bool] | None = None
    seen: int = 0
    fired: int = 0

    def hits(self, service: str, operation: str, request: AWSPreparedRequest) -> bool:
        if (service, operation) != (self.service, self.operation):
            return False
        if self.when is not None and not self.when(request):
            return False
        self.seen += 1
        if self.seen < self.nth or (self.times and self.fired >= self.times):
            return False
        self.fired += 1
        return True


@dataclass
class Faults:
    """Registered on every botocore client created while installed (see ``faults`` fixture)."""

    rules: list[Rule] = field(default_factory=list)
    # Every call that reached (moto standing in for) AWS, in order; failed ones are not in it.
    calls: list[tuple[str, str]] = field(default_factory=list)
    dead: bool = False

    def add(self, service: str, operation: str, kind: str, **kw: Any) -> Rule:
        rule = Rule(service, operation, kind, **kw)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()
        self.dead = False

    def count(self, service: str, operation: str) -> int:
        return self.calls.count((service, operation))

    def __call__(self, event_name: str, request: AWSPreparedRequest, **kw: Any) -> Any:
        _, service, operation = event_name.split(".", 2)
        if self.dead:
            raise Crash(f"{service}.{operation} after the process died")
        for rule in self.rules:
            if not rule.hits(service, operation, request):
                continue
            if rule.kind == "crash":
                self.dead = True
                raise Crash(f"process died before {service}.{operation}")
            if rule.kind == "crash_after":
                self.calls.append((service, operation))
                response = botocore_stubber(event_name=event_name, request=request, **kw)
                self.dead = True
                status = response.status_code if response is not None else "no reply"
                raise Crash(f"process died after {service}.{operation} ({status})")
            if rule.kind == "lost_reply":
                # the request reached AWS and was carried out; the reply never came back
                self.calls.append((service, operation))
                botocore_stubber(event_name=event_name, request=request, **kw)
                raise ReadTimeoutError(endpoint_url=request.url)
            if rule.kind == "timeout":
                raise ReadTimeoutError(endpoint_url=request.url)
            if rule.kind == "connect":
                raise EndpointConnectionError(endpoint_url=request.url)
            if rule.kind == "throttle":
                code = "ThrottlingException" if service in ("dynamodb", "ecs") else "Throttling"
                headers, body = _error(service, code, 400, "Rate exceeded")
                return _response(request, 400, headers, body)
            if rule.kind == "denied":
                code = "AccessDeniedException" if service in ("dynamodb", "ecs") else "AccessDenied"
                headers, body = _error(service, code, 400, "not authorized to perform this action")
                return _response(request, 400, headers, body)
            if rule.kind == "5xx":
                headers, body = _error(service, "ServiceUnavailable", 503, "Service unavailable")
                return _response(request, 503, headers, body)
            raise ValueError(f"unknown fault kind {rule.kind}")
        self.calls.append((service, operation))
        return botocore_stubber(event_name=event_name, request=request, **kw)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[Faults]:
    """A ``Faults`` in front of moto on every client the product creates from now on, and
    botocore's back-off sleeps recorded instead of slept."""
    injector = Faults()
    entry = ("before-send", injector)
    moto_entry = ("before-send", botocore_stubber)
    at = BUILTIN_HANDLERS.index(moto_entry)
    BUILTIN_HANDLERS[at] = entry
    slept: list[float] = []

    class _NoSleep:
        @staticmethod
        def sleep(seconds: float) -> None:
            slept.append(seconds)

    monkeypatch.setattr(botocore.endpoint, "time", _NoSleep)
    # Adaptive mode's client-side rate limiter, switched on by a throttle, would then hold
    # later calls back in real time (a token bucket waiting on a condition): not slept either.
    monkeypatch.setattr(ClientRateLimiter, "on_sending_request", lambda self, **kw: None)
    common.reset()  # the product's clients are made again, with the injector
    try:
        yield injector
    finally:
        BUILTIN_HANDLERS[BUILTIN_HANDLERS.index(entry)] = moto_entry
        common.reset()


def body_has(text: str) -> Callable[[AWSPreparedRequest], bool]:
    """A rule condition: the request's body mentions ``text`` (a cluster name, a key)."""

    def check(request: AWSPreparedRequest) -> bool:
        raw = request.body
        if isinstance(raw, str):
            raw = raw.encode()
        return isinstance(raw, bytes | bytearray) and text.encode() in raw

    return check
