"""X-Ray through Powertools' Tracer: in Lambda every AWS call is a subsegment of its own.

Tracing is off outside Lambda (and in SAM's emulator), so this imports the handlers in a fresh
interpreter that looks like Lambda and checks what the Tracer patched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
from aws_xray_sdk.core import patcher
import scaleahead.handlers.worker, scaleahead.handlers.alarm, scaleahead.handlers.tick
from scaleahead.handlers.common import tracer
print("disabled" if tracer.disabled else "enabled", sorted(patcher._PATCHED_MODULES))
"""


def test_every_aws_call_is_a_subsegment_in_lambda() -> None:
    env = {
        **os.environ,
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_LAMBDA_FUNCTION_NAME": "scaleahead-worker",
        "POWERTOOLS_TRACE_DISABLED": "false",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        "PYTHONPATH": str(ROOT / "layers" / "scaleahead"),
    }
    env.pop("AWS_SAM_LOCAL", None)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout
    state, patched = out.split(" ", 1)
    assert state == "enabled"
    assert "'botocore'" in patched  # boto3 clients' calls are traced one by one
