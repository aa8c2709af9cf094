"""``injection-planner``: the GUI, or with a subcommand the same computations headless."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from planner import __version__
from planner.cli import COMMANDS
from planner.cli import main as cli_main


def _gui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="injection-planner",
        description="Plan image-guided needle injections on CT and MR studies. "
        "For planning, review and training; not a medical device.",
        epilog="Headless subcommands (injection-planner COMMAND --help for each): " + ", ".join(COMMANDS),
    )
    p.add_argument("folder", nargs="?", type=Path, help="DICOM folder to open (default: the lumbar sample study)")
    p.add_argument("--sample", metavar="NAME", help="open a bundled sample study by name (e.g. lumbar_ct)")
    p.add_argument("--screenshot", metavar="PNG", type=Path, help="render the window to PNG (works without a display) and exit")
    p.add_argument("--size", default="1280x900", help="window size for --screenshot, WIDTHxHEIGHT (default 1280x900)")
    p.add_argument("--version", action="version", version=f"injection-planner {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        return cli_main(argv)
    args = _gui_parser().parse_args(argv)
    from imaging.samples import list_samples, sample

    try:
        if args.sample:
            folder = sample(args.sample).open_path
        elif args.folder is not None:
            folder = args.folder
        else:
            folder = sample("lumbar_ct").open_path if any(s.name == "lumbar_ct" for s in list_samples()) else None
        w, h = (int(x) for x in args.size.lower().split("x"))
    except (FileNotFoundError, ValueError) as exc:
        print(f"injection-planner: {exc}", file=sys.stderr)
        return 2
    from ui.app import run

    return run(folder, args.screenshot, (w, h))


if __name__ == "__main__":
    sys.exit(main())
