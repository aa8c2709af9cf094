"""``python -m imaging.samples [--out sample_dicom] [--only NAME ...]``: rebuild the bundled sample
studies: the real lumbar CT (from ``../shared/data`` when present) and the generated phantoms."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imaging.samples import lumbar_ct, samples_dir


def main(argv: list[str] | None = None) -> int:
    from imaging import phantoms

    choices = [lumbar_ct.NAME, *phantoms.names()]
    parser = argparse.ArgumentParser(prog="python -m imaging.samples", description=__doc__)
    parser.add_argument("--out", type=Path, default=samples_dir(), help="folder to write the studies into")
    parser.add_argument("--only", action="append", choices=choices, metavar="NAME", help=f"one of {', '.join(choices)} (repeatable)")
    args = parser.parse_args(argv)
    only = args.only or choices
    if lumbar_ct.NAME in only:
        source = lumbar_ct.default_source()
        if source.is_file():
            paths = lumbar_ct.build(args.out / lumbar_ct.NAME, source)
            print(f"{lumbar_ct.NAME}: {len(paths)} files")
        else:
            print(f"{lumbar_ct.NAME}: skipped, source not found at {source} (the committed study is kept)")
    todo = [n for n in only if n in phantoms.names()]
    if todo:
        phantoms.build_all(args.out, todo, log=print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
