"""Write the app's OpenAPI document as the published one: run when a release is cut.

    python scripts/openapi.py            # writes api/openapi/v1.json (make openapi)
    python scripts/openapi.py --check    # exit 1 if v1.json is not the app's document

The compatibility gate (tests/api/test_compat.py) compares the app with the
committed document, so writing it is the last step of a release (README, "Cutting a
release"): after it, the release's API is what later changes must stay compatible with.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api.app import create_app
from api.openapi import PUBLISHED, dumps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=PUBLISHED)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    text = dumps(create_app().openapi())
    if args.check:
        same = args.output.exists() and args.output.read_text(encoding="utf-8") == text
        print(f"{args.output}: {'up to date' if same else 'differs from the app'}")
        return 0 if same else 1
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
