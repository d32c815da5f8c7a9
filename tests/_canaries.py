"""Canary values for privacy tests, and the search for them in every form they must never take.

Distinctive but valid personal values (names, resident ID numbers with a correct
GB 11643 check character, mobiles, account ids) for rows that are accepted, and
bad values in personal fields for rows that are refused: tests submit them and
then read back every place they could surface. A value is searched as UTF-8,
GBK, UTF-16, hex and base64; ID numbers and mobiles also as their plain
(unkeyed) SHA-256, which enumeration would reverse (invariant 2), and, on chain,
as integers. Files are read with :func:`~tests._storebytes.readable_bytes`, so
the zstd frames a store keeps records in are searched decompressed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ledger.records.generate import synthetic_rows
from ledger.records.identifiers import gb11643_check_digit
from tests._storebytes import readable_bytes

PERSONAL = ("subject_name", "subject_id_number", "subject_mobile", "account_id")
BORROWERS = 6
ROWS_PER_FILE = 12


def canary_id(k: int) -> str:
    """A valid resident ID number nobody has: Dongcheng, born on 29 Feb 1956, order 9xx."""
    body = f"11010119560229{900 + k:03d}"
    return body + gb11643_check_digit(body)


def wrong_check_char(number: str) -> str:
    return number[:-1] + ("1" if number[-1] != "1" else "2")


@dataclass(frozen=True)
class Borrower:
    name: str
    id_number: str
    mobile: str
    account_id: str

    def fields(self) -> dict[str, str]:
        return {
            "subject_name": self.name,
            "subject_id_type": "10",
            "subject_id_number": self.id_number,
            "subject_mobile": self.mobile,
            "account_id": self.account_id,
        }


STEMS = "甲乙丙丁戊己庚辛壬癸"
GOOD = [
    Borrower(f"金丝雀{STEMS[k]}", canary_id(k), f"139001390{k + 1:02d}", f"CANARY-ACCT-{k + 1:04d}")
    for k in range(BORROWERS)
]
#: Rows refused for a bad value in a personal field (the bad value is a canary too).
BAD = {
    "wrong ID check character": Borrower(
        "金丝雀庚", wrong_check_char(canary_id(6)), "13900139007", "CANARY-ACCT-0007"
    ),
    "mobile not 13-19": Borrower("金丝雀辛", canary_id(7), "12900139008", "CANARY-ACCT-0008"),
    "digits in name": Borrower("金丝雀9号", canary_id(8), "13900139009", "CANARY-ACCT-0009"),
    "account id too long": Borrower(
        "金丝雀壬", canary_id(9), "13900139010", "CANARY-ACCT-0010-" + "X" * 60
    ),
}
EVERYONE = [*GOOD, *BAD.values()]


def base64_forms(raw: bytes) -> dict[str, bytes]:
    """How ``raw`` shows inside any longer base64 text: it starts at one of three offsets
    in a 3-byte group, so for each, the whole groups of ``raw`` from there on, in the
    standard and the URL-safe alphabet."""
    forms = {}
    for shift in range(3):
        part = raw[shift : len(raw) - (len(raw) - shift) % 3]
        forms[f"base64 +{shift}"] = base64.b64encode(part)
        if (url := base64.urlsafe_b64encode(part)) != forms[f"base64 +{shift}"]:
            forms[f"base64url +{shift}"] = url
    return forms


@functools.cache
def needles(*, on_chain: bool = False) -> list[tuple[str, bytes]]:
    """(what, bytes) for every canary value in every form it must never take."""
    found: list[tuple[str, bytes]] = []
    for b in EVERYONE:
        for kind, value in zip(
            PERSONAL, (b.name, b.id_number, b.mobile, b.account_id), strict=True
        ):
            forms = {"utf-8": value.encode(), "utf-16-le": value.encode("utf-16-le")}
            forms["utf-16-be"] = value.encode("utf-16-be")
            forms["hex"] = value.encode().hex().encode()
            forms["HEX"] = value.encode().hex().upper().encode()
            forms |= base64_forms(value.encode())
            if not value.isascii():
                forms["gbk"] = value.encode("gbk")
            if kind in ("subject_id_number", "subject_mobile"):
                digest = hashlib.sha256(value.encode()).digest()
                forms["sha256 hex"] = digest.hex().encode()
                forms["SHA256 HEX"] = digest.hex().upper().encode()
                forms["sha256 bytes"] = digest
                if on_chain and value.isdigit():
                    forms["uint256"] = int(value).to_bytes(32, "big")
            found += [(f"{kind} {value!r} as {form}", blob) for form, blob in forms.items()]
    return found


def leaks_in(blob: bytes, where: str, *, on_chain: bool = False) -> list[str]:
    return [f"{what} in {where}" for what, needle in needles(on_chain=on_chain) if needle in blob]


def rows_for(prefix: str, seed: int, n: int = ROWS_PER_FILE) -> list[dict[str, object]]:
    """``n`` valid rows about the GOOD borrowers, round robin, all from one lender."""
    rows = list(synthetic_rows(n, seed=seed))
    lender = next(synthetic_rows(1, seed=60))["reporter_org_code"]
    for i, row in enumerate(rows):
        row.update(
            GOOD[i % BORROWERS].fields(), report_id=f"{prefix}-{i}", reporter_org_code=lender
        )
    return rows


def bad_rows(prefix: str, seed: int) -> list[dict[str, object]]:
    """One row per BAD borrower, and one GOOD borrower's row refused for a non-personal field."""
    rows = list(synthetic_rows(len(BAD) + 1, seed=seed))
    for i, (row, borrower) in enumerate(zip(rows, [*BAD.values(), GOOD[0]], strict=True)):
        row.update(borrower.fields(), report_id=f"{prefix}-BAD-{i}")
    rows[-1]["five_class"] = "7"
    return rows


def files_under(path: Path) -> Iterator[Path]:
    return (p for p in sorted(path.rglob("*")) if p.is_file())


def leaks_in_files(paths: Iterable[Path]) -> list[str]:
    """Every canary found in these files, as they are and as their zstd frames and
    stored records decompress."""
    return [leak for p in paths for leak in leaks_in(readable_bytes(p), str(p))]
