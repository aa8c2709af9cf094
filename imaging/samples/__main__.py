"""``python -m imaging.samples [--out sample_dicom]``: rebuild every bundled sample study."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imaging.samples import lumbar_ct, samples_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m imaging.samples", description=__doc__)
    parser.add_argument("--out", type=Path, default=samples_dir(), help="folder to write the studies into")
    args = parser.parse_args(argv)
    source = lumbar_ct.default_source()
    if source.is_file():
        paths = lumbar_ct.build(args.out / lumbar_ct.NAME, source)
        print(f"{lumbar_ct.NAME}: {len(paths)} files")
    else:
        print(f"{lumbar_ct.NAME}: skipped, source not found at {source} (the committed study is kept)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
