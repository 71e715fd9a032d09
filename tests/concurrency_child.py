"""Lambda invocations in processes of their own, started together, for tests/test_concurrency.py.

Run as ``python tests/concurrency_child.py WORKDIR`` with the jobs on the first line of stdin
(``[{"function": "AlarmFunction", "event": {...}}, ...]``). This process imports the handlers
once, resolved from template.yaml as tests/test_handlers.py resolves them, builds the runtime
(its boto3 clients: no request made, so no connection to share), then forks one process per
job: importing boto3, Powertools and numpy and building clients eight times over would take
longer on a small machine than everything the test checks. Each forked process then, on its own:

1. takes a lease owner id of its own, as each Lambda execution environment has (a runtime
   built before the fork would otherwise give every process the same one);
2. writes ``{"ready": i}`` on stdout (one short line: pipe writes that small are atomic);
3. reads one byte from stdin: the start signal, N bytes written at once by the test;
4. invokes its handler with a fresh ``LocalContext`` and writes ``WORKDIR/result-<i>.json``:
   ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": <class name>, ...}``.

Its stdout and stderr (Powertools' JSON logs among them) go to ``WORKDIR/child-<i>.log``. The
environment (endpoint, credentials, table names, queue URL) is the one the test passes; the
clock is the wall clock.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _write_json(path: Path, message: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(message, default=str))
    os.replace(tmp, path)


def _invoke(i: int, job: dict[str, Any], handler: Callable[..., Any], workdir: Path) -> int:
    """The forked process's whole life; returns its exit code."""
    from scaleahead.handlers import common
    from scaleahead_testkit.lambda_context import LocalContext

    signal = os.dup(1)
    with (workdir / f"child-{i}.log").open("w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        out: dict[str, Any] = {"pid": os.getpid()}
        rt = common.runtime()
        rt.owner = uuid.uuid4().hex
        out["owner"] = rt.owner
        os.write(signal, (json.dumps({"ready": i}) + "\n").encode())
        os.close(signal)
        os.read(0, 1)
        out["started"] = time.time()
        try:
            result = handler(job["event"], LocalContext())
        except Exception as err:
            out.update(
                ok=False,
                error=type(err).__name__,
                message=str(err),
                traceback=traceback.format_exc(),
            )
        else:
            out.update(ok=True, result=result)
        out["ended"] = time.time()
        sys.stdout.flush()
        sys.stderr.flush()
    _write_json(workdir / f"result-{i}.json", out)
    return 0


def main() -> int:
    workdir = Path(sys.argv[1])
    jobs: list[dict[str, Any]] = json.loads(sys.stdin.readline())
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    from scaleahead.handlers import common
    from tests.test_handlers import resolve_handler

    handlers = {name: resolve_handler(name) for name in sorted({j["function"] for j in jobs})}
    rt = common.runtime()
    if "owner" not in {f.name for f in dataclasses.fields(rt)}:
        raise RuntimeError("Runtime has no owner field: update tests/concurrency_child.py")
    sys.stdout.flush()
    sys.stderr.flush()
    pids = []
    for i, job in enumerate(jobs):
        pid = os.fork()
        if pid == 0:  # the child: never returns into this loop
            code = 1
            try:
                code = _invoke(i, job, handlers[job["function"]], workdir)
            finally:
                os._exit(code)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    return 0 if all(c == 0 for c in codes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
