"""Command groups that mirror the AWS CLI.

``rexwatch logs|cloudwatch|sns|elbv2 <op>`` runs rexwatch's own command when
one is defined (``tail``, ``query``, ``export`` …) and otherwise hands the
arguments to the AWS CLI's own driver, pointed at this server. Every AWS
operation the server implements thus takes exactly the AWS CLI's flags,
shorthand syntax, ``file://`` arguments, paginators and output formats
(``--output json|table|text``), with no per-operation code here.
"""

from __future__ import annotations

import os
from typing import Any

import click

from rexwatch.cli.context import CliContext


def run_aws_cli(ctx: CliContext, argv: list[str]) -> int:
    """Run ``aws <argv>`` in-process against the rexwatch endpoint; return its exit code."""
    from awscli.clidriver import create_clidriver

    os.environ.setdefault("AWS_ACCESS_KEY_ID", os.environ.get("REXWATCH_AWS_ACCESS_KEY_ID", "rexwatch"))
    os.environ.setdefault(
        "AWS_SECRET_ACCESS_KEY", os.environ.get("REXWATCH_AWS_SECRET_ACCESS_KEY", "rexwatch")
    )
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("REXWATCH_REGION", "us-east-1"))
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    os.environ.setdefault("AWS_PAGER", "")
    driver = create_clidriver()
    if ctx.api_key and not os.environ.get("REXWATCH_AWS_ACCESS_KEY_ID"):
        token = ctx.api_key

        def use_bearer(request: Any, **_: Any) -> None:
            # rexwatch's AWS door accepts the CLI's API key in place of a SigV4 signature.
            request.headers["Authorization"] = f"Bearer {token}"

        driver.session.register("before-send", use_bearer)
    args = list(argv)
    if "--endpoint-url" not in args:
        args = ["--endpoint-url", ctx.endpoint, *args]
    if ctx.output and "--output" not in args:
        args += ["--output", ctx.output]
    return driver.main(args)


class AwsMirrorGroup(click.Group):
    """A click group whose unknown subcommands are AWS CLI operations of ``aws_service``."""

    def __init__(self, *args: Any, aws_service: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aws_service = aws_service

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        service = self.aws_service

        @click.command(
            cmd_name,
            context_settings={
                "ignore_unknown_options": True,
                "allow_extra_args": True,
                "help_option_names": [],
            },
            add_help_option=False,
        )
        @click.pass_context
        def passthrough(cctx: click.Context) -> None:
            root = cctx.find_object(CliContext)
            cctx.exit(run_aws_cli(root, [service, cmd_name, *cctx.args]))

        return passthrough

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_commands(ctx, formatter)
        with formatter.section("AWS CLI operations"):
            formatter.write_text(
                f"Every 'aws {self.aws_service} <operation>' the server implements, with the AWS CLI's flags; "
                f"see docs/aws-compatibility.md."
            )
