"""The ``ems`` command: one subcommand per pipeline step, each with its own ``--help``.

Each stage's subpackage exposes ``register(subparsers)``; this module only wires them up,
configures logging and turns :class:`ems.errors.EmsError` into a one-line message and exit
status 2 (no traceback), so Snakemake logs show what is wrong and where.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import signal
import sys
from collections.abc import Sequence

from ems import __version__, redact
from ems.errors import EmsError, Interrupted

logger = logging.getLogger("ems")

#: Modules that contribute subcommands, in the order of the pipeline.
COMMAND_MODULES: tuple[str, ...] = (
    "ems.data.cli",
    "ems.train.cli",
    "ems.model.cli",
    "ems.evaluation.cli",
    "ems.tracking.cli",
    "ems.ablation.cli",
    "ems.tune.cli",
    "ems.recover",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ems", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ems {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def interrupted_exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a process killed by it (SIGTERM -> 143; Ctrl-C 130)."""
    return 128 + (exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    redact.install()  # no credentials of a tracking or storage URI in any log line
    code = _dispatch(args)
    on_exit = getattr(args, "on_exit", None)  # a subcommand's last word on its status (``ems train``: a torchrun rank)
    if on_exit is not None:
        on_exit(code)
    return code


def _dispatch(args: argparse.Namespace) -> int:
    """Run the subcommand; its exit status, with EmsError, interruption and a full disk as one-line messages."""
    try:
        return int(args.func(args) or 0)
    except EmsError as exc:
        print(f"ems {args.command}: error: {redact.redact_text(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM turned into one (a cancelled job): no traceback
        reason = str(exc) or "Ctrl-C"
        print(f"ems {args.command}: interrupted ({reason}); finished outputs are kept, rerun to continue",
              file=sys.stderr)
        return interrupted_exit_code(exc)
    except OSError as exc:  # a full disk outside ems.io's atomic writers
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(f"ems {args.command}: error: no space left writing {exc.filename or 'an output'}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
