"""The headless command line: ``injection-planner COMMAND ...``.

Each command lives in ``planner/commands/<name>.py`` with ``add_arguments(parser)`` and
``run(args) -> int`` and calls the same core functions as the GUI.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from imaging.errors import ImagingError
from planner.errors import PlanError

# Commands in the order --help lists them; each is a module in planner.commands.
COMMANDS = ("scan", "convert", "segment", "plan", "check")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="injection-planner",
        description="Headless commands of Injection Planner (for planning, review and training; not a medical device).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"planner.commands.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


# Options that take an LPS point "X,Y,Z"; a point starting with a minus sign would otherwise be
# read by argparse as an option ("--entry -20,5,3").
POINT_OPTIONS = ("--entry", "--target", "--vessel-seed")
_POINT = re.compile(r"^-\d*\.?\d+(e[-+]?\d+)?\s*,")


def join_point_values(argv: list[str]) -> list[str]:
    """``["--entry", "-20,5,3"]`` -> ``["--entry=-20,5,3"]`` for the point options."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in POINT_OPTIONS and i + 1 < len(argv) and _POINT.match(argv[i + 1]):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    """Run one command; typed errors print a clear message and exit non-zero."""
    argv = join_point_values(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (ImagingError, PlanError, FileNotFoundError) as exc:
        print(f"injection-planner {args.command}: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
