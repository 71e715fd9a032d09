"""Every example target file in the README validates."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaleahead.domain.kinds import Kind
from scaleahead_tools.cli.targets import read_target_file

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates(path: Path) -> None:
    targets = read_target_file(path)
    assert targets and all(t.id for t in targets)


def test_there_is_an_example_per_kind() -> None:
    kinds = {t.kind.value for p in EXAMPLES for t in read_target_file(p)}
    assert kinds == {k.value for k in Kind}
