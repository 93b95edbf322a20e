"""docs/aws-compatibility.md is generated from botocore's models and the door's handler registry."""

from __future__ import annotations

from pathlib import Path

from rexwatch.cli import aws_compat

PAGE = Path(__file__).resolve().parents[1] / "docs" / "aws-compatibility.md"


def test_committed_page_is_what_the_generator_writes():
    assert PAGE.read_text() == aws_compat.render(), (
        "docs/aws-compatibility.md is stale: run `python -m rexwatch.cli.aws_compat > docs/aws-compatibility.md`"
    )


def test_every_implemented_operation_is_listed_as_supported():
    from botocore import xform_name

    from rexwatch.cli.aws_ops import implemented

    text = PAGE.read_text()
    for service, _, _ in aws_compat.SERVICES:
        ops = implemented(service)
        assert ops, service
        for op in ops:
            assert f"| {op} | `{xform_name(op, '-')}` |" in text
