"""Lint: contracts use custom errors only, never revert strings.

    python scripts/check_contracts.py [PATH ...]    # default: contracts/

Flags, as ``file:line: message``, every ``require(cond, <string>)`` and every
``revert(<string>)`` whose message is a string literal (plain, ``unicode"..."`` or ``hex"..."``)
or a string expression (``string(...)``, ``string.concat(...)``). Comments are ignored;
``require(cond, SomeError(...))``, ``revert SomeError(...)`` and assembly ``revert(0, 0)`` pass.
Exits 1 when anything is flagged.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO_ROOT / "contracts"

_CALL = re.compile(r"\b(require|revert)\s*\(")
_STRING_START = re.compile(r"""\s*(?:unicode|hex)?["']|\s*string\s*[(.]""")


def strip_comments(source: str) -> str:
    """Blank out comments (keeping newlines, so line numbers hold); string literals survive."""
    out = []
    i, n = 0, len(source)
    while i < n:
        two = source[i : i + 2]
        if two == "//":
            end = source.find("\n", i)
            end = n if end == -1 else end
            out.append(" " * (end - i))
            i = end
        elif two == "/*":
            end = source.find("*/", i + 2)
            end = n if end == -1 else end + 2
            out.append(re.sub(r"[^\n]", " ", source[i:end]))
            i = end
        elif source[i] in "\"'":
            end = _string_end(source, i)
            out.append(source[i:end])
            i = end
        else:
            out.append(source[i])
            i += 1
    return "".join(out)


def _string_end(source: str, start: int) -> int:
    quote, i = source[start], start + 1
    while i < len(source) and source[i] != quote and source[i] != "\n":
        i += 2 if source[i] == "\\" else 1
    return i + 1


def _arguments(code: str, open_paren: int) -> list[str]:
    """Top-level, comma-separated arguments of the call whose `(` is at `open_paren`."""
    args, depth, start, i = [], 0, open_paren + 1, open_paren
    while i < len(code):
        ch = code[i]
        if ch in "\"'":
            i = _string_end(code, i)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                args.append(code[start:i])
                break
        elif ch == "," and depth == 1:
            args.append(code[start:i])
            start = i + 1
        i += 1
    return args


def violations(source: str) -> list[tuple[int, str]]:
    """(line, message) for every revert string in one Solidity source."""
    code = strip_comments(source)
    found = []
    for match in _CALL.finditer(code):
        name = match.group(1)
        args = _arguments(code, match.end() - 1)
        message_index = 1 if name == "require" else 0
        if len(args) > message_index and _STRING_START.match(args[message_index]):
            line = code.count("\n", 0, match.start()) + 1
            found.append((line, f"{name}() with a string message; use a custom error"))
    return found


def check_paths(paths: list[Path]) -> list[str]:
    """``file:line: message`` for every violation under `paths` (files or directories)."""
    files = sorted({f for p in paths for f in ([p] if p.is_file() else p.rglob("*.sol"))})
    report: list[str] = []
    for file in files:
        shown = file.relative_to(REPO_ROOT) if file.is_relative_to(REPO_ROOT) else file
        text = file.read_text(encoding="utf-8")
        report.extend(f"{shown}:{line}: {message}" for line, message in violations(text))
    return report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a).resolve() for a in args] or [DEFAULT_ROOT]
    report = check_paths(paths)
    for entry in report:
        print(entry)
    if report:
        print(f"{len(report)} revert string(s) found; contracts use custom errors only.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
