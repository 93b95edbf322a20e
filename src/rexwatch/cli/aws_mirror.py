"""Command groups that mirror the AWS CLI.

``rexwatch logs|cloudwatch|sns <op>`` runs rexwatch's own command when one is
defined (``tail``, ``query``, ``export`` …) and otherwise hands the arguments
to the AWS CLI's own driver, pointed at this server. Every AWS operation the
server implements thus takes exactly the AWS CLI's flags, shorthand syntax,
``file://`` arguments, paginators and output formats (``--output
json|table|text``), with no per-operation code here. ``--help`` on an
operation is generated from the AWS CLI's argument table (botocore's model);
a name that is no operation gets suggestions among the implemented ones
(``aws_ops.py``).
"""

from __future__ import annotations

import os
from typing import Any

import click

from rexwatch.cli.context import CliContext, fail

SERVER_EXTRA = "pip install 'rexwatch[server]'"


def run_aws_cli(ctx: CliContext, argv: list[str]) -> int:
    """Run ``aws <argv>`` in-process against the rexwatch endpoint; return its exit code."""
    from rexwatch.cli.aws_ops import driver

    os.environ.setdefault("AWS_ACCESS_KEY_ID", os.environ.get("REXWATCH_AWS_ACCESS_KEY_ID", "rexwatch"))
    os.environ.setdefault(
        "AWS_SECRET_ACCESS_KEY", os.environ.get("REXWATCH_AWS_SECRET_ACCESS_KEY", "rexwatch")
    )
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("REXWATCH_REGION", "us-east-1"))
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    os.environ.setdefault("AWS_PAGER", "")
    cli_driver = driver()
    if ctx.api_key and not os.environ.get("REXWATCH_AWS_ACCESS_KEY_ID"):
        token = ctx.api_key

        def use_bearer(request: Any, **_: Any) -> None:
            # rexwatch's AWS door accepts the CLI's API key in place of a SigV4 signature.
            request.headers["Authorization"] = f"Bearer {token}"

        cli_driver.session.register("before-send", use_bearer)
    args = list(argv)
    if "--endpoint-url" not in args:
        args = ["--endpoint-url", ctx.endpoint, *args]
    if ctx.output and "--output" not in args:
        args += ["--output", ctx.output]
    return cli_driver.main(args)


def _have_awscli() -> bool:
    import importlib.util

    return importlib.util.find_spec("awscli") is not None


class MirroredOperation(click.Command):
    """One AWS CLI operation: arguments go to the AWS CLI untouched, except ``--help``."""

    def __init__(self, name: str, service: str) -> None:
        super().__init__(
            name,
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
            add_help_option=False,
            help=f"The AWS CLI's 'aws {service} {name}' against rexwatch.",
        )
        self.service = service

    def invoke(self, ctx: click.Context) -> Any:
        args = list(ctx.args)
        if not _have_awscli():
            fail(f"'{ctx.command_path}' runs the AWS CLI, which comes with the server extra: {SERVER_EXTRA}")
        from rexwatch.cli import aws_ops

        if "--help" in args or "-h" in args or args == ["help"]:
            click.echo(aws_ops.render_help(ctx, self.service, self.name), color=ctx.color)
            ctx.exit(0)
        try:
            args = aws_ops.resolve_relative_times(self.service, self.name, args)
        except Exception as e:  # a bad relative time: the AWS CLI would refuse it anyway
            fail(str(e), 2)
        root = ctx.find_object(CliContext)
        ctx.exit(run_aws_cli(root, [self.service, self.name, *args]))


class AwsMirrorGroup(click.Group):
    """A click group whose other subcommands are the AWS CLI operations of ``aws_service``."""

    def __init__(self, *args: Any, aws_service: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aws_service = aws_service

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        if _have_awscli():
            from rexwatch.cli.aws_ops import operations

            if cmd_name not in operations(self.aws_service):
                return None
        return MirroredOperation(cmd_name, self.aws_service)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if super().get_command(ctx, name) is None and _have_awscli() and not name.startswith("-"):
            from rexwatch.cli.aws_ops import operations, suggestions

            if name not in operations(self.aws_service):
                close = suggestions(self.aws_service, name, self.commands)
                hint = f" Did you mean: {', '.join(close)}?" if close else ""
                raise click.UsageError(
                    f"'{name}' is not a rexwatch {self.name} command nor an AWS '{self.aws_service}' "
                    f"operation.{hint} 'rexwatch {self.name} --help' lists them all.",
                    ctx,
                )
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_commands(ctx, formatter)
        with formatter.section("AWS CLI operations"):
            if not _have_awscli():
                formatter.write_text(f"The AWS CLI operations come with the server extra: {SERVER_EXTRA}")
                return
            from rexwatch.cli.aws_ops import implemented_cli_names, summary

            formatter.write_text(
                f"The 'aws {self.aws_service}' operations rexwatch implements, with the AWS CLI's flags. "
                f"'rexwatch {self.name} OPERATION --help' describes one; docs/aws-compatibility.md lists "
                "what is not implemented."
            )
            formatter.write_paragraph()
            names = implemented_cli_names(self.aws_service)
            formatter.write_dl([(n, summary(self.aws_service, n)) for n in names])
