"""The latency-critical alarm path must not import numpy; the worker may."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(importing: str) -> set[str]:
    code = f"import sys, {importing}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_alarm_and_tick_handlers_do_not_import_numpy() -> None:
    for mod in ("scaleahead.handlers.alarm", "scaleahead.handlers.tick"):
        loaded = _modules_after(mod)
        assert "numpy" not in loaded, mod
        assert not any(m.startswith(("matplotlib", "rich", "moto", "yaml")) for m in loaded), mod


def test_worker_does_import_the_forecast() -> None:
    assert "numpy" in _modules_after("scaleahead.handlers.worker")
