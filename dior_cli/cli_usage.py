"""How the command line ends on a mistake: one line naming it, exit code 1 (130 on Ctrl-C).

Click (inside Typer) would draw a boxed panel and exit with code 2. dior treats a wrong
option like any other user mistake (see :mod:`dior_cli.errors`): one line on stderr that
names the option or argument and where the help is, and exit code 1. ``dior`` with no
command prints the overview and exits 0. Inside a command (:func:`user_errors_exit_1`), a
:class:`~dior_cli.errors.DiorError` becomes a red line on stderr and its exit code, and Ctrl-C
a one-line note and exit code 130.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer
from typer.core import TyperGroup

try:  # Typer 0.2x carries its own copy of Click
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # older Typer depends on Click
    from click.exceptions import ClickException, UsageError

from dior_cli.console import console, setup_logging
from dior_cli.errors import DiorError

USAGE_EXIT_CODE = 1
INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, what shells report for Ctrl-C


def usage_message(error: UsageError) -> str:
    """``error: <Click's message> (see dior COMMAND -h)`` on one line."""
    text = " ".join(error.format_message().split())
    where = f" (see '{error.ctx.command_path} -h')" if error.ctx is not None else ""
    return f"error: {text}{where}"


class DiorGroup(TyperGroup):
    """The ``dior`` command group, with usage mistakes reported as :func:`usage_message` and exit 1."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `dior` alone: the overview, as asked
                exc.show()
                sys.exit(0)
            console.print(usage_message(exc), markup=False, highlight=False, soft_wrap=True)
            sys.exit(USAGE_EXIT_CODE)
        except ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except typer.Abort:
            console.print("aborted", markup=False)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def user_errors_exit_1(command: Callable) -> Callable:
    """Turn a ``DiorError`` raised by ``command`` into a message on stderr and exit code 1, and
    Ctrl-C into a one-line note and exit code 130."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setup_logging()
        try:
            return command(*args, **kwargs)
        except DiorError as exc:
            console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(code=exc.exit_code) from None
        except KeyboardInterrupt:
            console.print("interrupted: finished files are kept, none is half-written", highlight=False)
            raise typer.Exit(code=INTERRUPTED_EXIT_CODE) from None

    return wrapper
