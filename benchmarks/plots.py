"""Regenerate bench.md and the PNG plots from a saved bench.json (no measuring), e.g. after the
report format changed or to merge several runs:

    python benchmarks/plots.py benchmarks/results/bench.json [more.json ...] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidstyle.bench.report import write_reports  # noqa: E402
from vidstyle.bench.run import finalize, merge_reports  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", help="bench.json files (several are merged, the first one's machine kept)")
    ap.add_argument("--out", help="folder to write (default: beside the first JSON)")
    args = ap.parse_args()
    reports = [json.loads(Path(p).read_text()) for p in args.reports]
    # merging also recomputes the derived parts (ratios, notes) with the current code
    report = merge_reports(reports) if len(reports) > 1 else finalize(reports[0])
    for path in write_reports(report, args.out or Path(args.reports[0]).parent):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
