"""Write a synthetic portfolio (credit-account-report v1 rows) as CSV, to try the commands on.

    .venv/bin/python scripts/portfolio.py synthetic-portfolio.csv [--rows 100] [--seed 2026]

The rows come from ``ledger.records.generate`` (the generator ``ledger demo`` uses): valid
GB 11643 ID numbers of people who do not exist and a spread of account statuses. Report ids
are ``RPT-<seed>-<row>``, so the README's ``RPT-2026-17`` is in the default file. The same
seed writes the same rows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ledger.records import synthetic_rows, write_csv


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="CSV file to write (replaced if it exists)")
    parser.add_argument("--rows", type=int, default=100, help="rows to write (default 100)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    args = parser.parse_args(argv)
    write_csv(synthetic_rows(args.rows, seed=args.seed), args.output)
    print(f"wrote {args.rows} synthetic rows to {args.output}")


if __name__ == "__main__":
    main()
