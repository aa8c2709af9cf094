"""``python -m imaging.phantoms [--out DIR] [--only NAME ...]``: generate the phantom samples."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imaging.phantoms import build_all, names


def main(argv: list[str] | None = None) -> int:
    from imaging.samples import samples_dir

    parser = argparse.ArgumentParser(prog="python -m imaging.phantoms", description=__doc__)
    parser.add_argument("--out", type=Path, default=samples_dir(), help="folder to write the studies into")
    parser.add_argument("--only", action="append", choices=names(), metavar="NAME", help=f"one of {', '.join(names())} (repeatable)")
    args = parser.parse_args(argv)
    build_all(args.out, args.only, log=print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
