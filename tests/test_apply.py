"""Hostile target files: each one is refused with its reason, and nothing at all is written.

The corpus is events/invalid/targets/ (cases.json says what each file must be refused for);
every file goes through `scaleahead targets apply` itself against moto. The YAML loader's own
rules (YAML 1.2 scalars, duplicate keys, depth, alias expansion) are tested here too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from scaleahead.domain.target import TargetError
from scaleahead.handlers import common
from scaleahead.settings import Settings
from scaleahead_testkit import moto_extensions
from scaleahead_testkit.local_aws import create_ecs, create_tables, local_env
from scaleahead_tools.cli import targets as tg
from scaleahead_tools.cli.main import main

CORPUS = Path(__file__).resolve().parents[1] / "events" / "invalid" / "targets"
CASES: list[dict[str, str]] = json.loads((CORPUS / "cases.json").read_text())
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "targets.yaml"


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Any, Any]]:
    """moto with the `aws` fixture's ECS service prod/web (4 tasks), shared by every case:
    nothing may be written by any of them, so none can disturb the next."""
    moto_extensions.install()
    with local_env({"MODE": "ForecastAndScale"}), mock_aws():
        common.reset()
        ddb = boto3.client("dynamodb")
        create_tables(ddb, Settings.from_env())
        create_ecs(boto3.client("ecs"), "prod", {"web": 4})
        try:
            yield ddb, boto3.client("cloudwatch")
        finally:
            common.reset()


def written(ddb: Any, cloudwatch: Any) -> list[str]:
    """Everything in every table and every alarm: what an apply must not have left."""
    out = []
    for table in ddb.list_tables()["TableNames"]:
        out += [f"{table}: {item}" for item in ddb.scan(TableName=table)["Items"]]
    alarms = cloudwatch.describe_alarms()
    out += [f"alarm {a['AlarmName']}" for a in alarms["MetricAlarms"] + alarms["CompositeAlarms"]]
    return out


def test_the_manifest_names_every_file_once() -> None:
    files = [c["file"] for c in CASES]
    on_disk = {p.name for p in CORPUS.iterdir() if p.name != "cases.json"}
    assert len(files) == len(set(files)) and set(files) == on_disk
    assert len(files) >= 20 and all(c["expect"] == "rejected" for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["file"])
def test_a_hostile_file_is_refused_and_nothing_is_written(
    world: tuple[Any, Any], capsys: pytest.CaptureFixture[str], case: dict[str, str]
) -> None:
    assert written(*world) == []
    rc = main(["targets", "apply", str(CORPUS / case["file"])])
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    assert case["reason_contains"] in err
    # never echoed wholesale (a 10,000-character id, 5,000 digits), never raw control codes
    assert len(err) < 2000 and "\x1b" not in err
    assert written(*world) == []


def test_a_dry_run_refuses_the_same_files(
    world: tuple[Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("101-targets-last-resource-missing.yaml", "duplicate-key.yaml"):
        assert main(["targets", "apply", str(CORPUS / name), "--dry-run"]) == 2
        assert "dry run" not in capsys.readouterr().out
    assert written(*world) == []


# -- the loader ------------------------------------------------------------------------------


def test_duplicate_keys_are_refused_naming_the_key_and_both_lines() -> None:
    with pytest.raises(
        yaml.YAMLError, match=r"duplicate key 'max_capacity' \(first at line 2, again at line 3\)"
    ):
        tg.load_yaml("t:\n  max_capacity: 20\n  max_capacity: 2000\n")
    # the same key spelt two ways is still the same key
    with pytest.raises(yaml.YAMLError, match="duplicate key 'id'"):
        tg.load_yaml('id: a\n"id": b\n')


def test_merge_keys_may_override_without_being_duplicates() -> None:
    data = tg.load_yaml("base: &b {x: 1, y: 2}\nt:\n  <<: *b\n  y: 3\n")
    assert data["t"] == {"x": 1, "y": 3}


def test_plain_scalars_follow_yaml_1_2_not_1_1() -> None:
    data = tg.load_yaml(
        "a: yes\nb: on\nc: 010\nd: 1:30\ne: 2026-01-01\nf: 1e3\ng: true\nh: .inf\ni: 0x10\nj: 7\n"
    )
    assert data == {
        "a": "yes",  # YAML 1.1 would say True
        "b": "on",  # True
        "c": "010",  # 8
        "d": "1:30",  # 90
        "e": "2026-01-01",  # a date
        "f": 1000.0,  # the string "1e3"
        "g": True,
        "h": float("inf"),  # read, then refused by validation
        "i": "0x10",  # 16
        "j": 7,
    }


def test_nesting_is_bounded_with_a_clean_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    for text in (
        "".join(" " * i + f"k{i}:\n" for i in range(1000)),  # block mappings
        "targets: " + "{a: " * 3000 + "1" + "}" * 3000,  # flow mappings
    ):
        deep.write_text(text)
        with pytest.raises(TargetError, match="nested deeper than 32 levels"):
            tg.read_target_file(deep)
    # at the limit still fine
    tg.load_yaml("a: " + "[" * (tg.MAX_DEPTH - 1) + "]" * (tg.MAX_DEPTH - 1))


def test_an_alias_bomb_is_refused_while_it_is_read() -> None:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(yaml.YAMLError, match="expands to more than"):
        tg.load_yaml("\n".join(lines))
    with pytest.raises(yaml.YAMLError, match="refers to a node that contains it"):
        tg.load_yaml("a: &a {b: *a}")


def test_aliases_within_bounds_still_work(tmp_path: Path) -> None:
    """A load metric anchored in one target and reused by another is ordinary YAML."""
    text = EXAMPLE.read_text()
    first = text.split("targets:\n", 1)[1]
    second = first.replace("id: web", "id: web-two", 1)
    start, end = second.index("    load_metric:"), second.index("    warmup_seconds:")
    second = second[:start] + "    load_metric: *lm\n" + second[end:]
    first = first.replace("    load_metric:", "    load_metric: &lm", 1)
    p = tmp_path / "shared.yaml"
    p.write_text("targets:\n" + first + second)
    got = tg.read_target_file(p)
    assert [x.id for x in got] == ["web", "web-two"]
    assert got[0].load_metric == got[1].load_metric


def test_files_too_large_or_unreadable_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * tg.MAX_FILE_BYTES + "\n")
    with pytest.raises(TargetError, match="larger than"):
        tg.read_target_file(big)
    with pytest.raises(TargetError, match="cannot be read"):
        tg.read_target_file(tmp_path)  # a directory
    with pytest.raises(TargetError, match="no such file"):
        tg.read_target_file(tmp_path / "absent.yaml")
