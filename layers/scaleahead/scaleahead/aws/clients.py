"""boto3 clients made once per execution environment and reused across invocations.

A cold start pays for client creation once; tests and the demo call ``reset()`` when they
start a fresh moto backend.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Adaptive retries absorb throttling on the control plane APIs (UpdateService and friends)
# without the caller writing its own backoff.
_CONFIG = Config(
    retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=5, read_timeout=20
)


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]


@cache
def resource(service: str) -> Any:
    return boto3.session.Session().resource(service, config=_CONFIG)  # type: ignore[call-overload]


def reset() -> None:
    client.cache_clear()
    resource.cache_clear()
