"""Pools of realistic, valid identifiers for the synthetic portfolio, built once per seed.

Resident ID numbers use region codes that python-stdnum knows for every birth
year we draw (``REGIONS`` gives the first year each code is accepted), real
birth dates, and a correct GB 11643 check character. Org codes are Unified
Social Credit Codes with a correct check character. Nothing here is a real
person or company: the numbers are random within those rules.
"""

from __future__ import annotations

import datetime
import random
from functools import lru_cache
from typing import Final, NamedTuple

from ledger.records.identifiers import gb11643_check_digit, uscc_check_char

BORROWERS: Final = 4096  # distinct borrowers per portfolio: they repeat, as in real books
ORGS: Final = 48
#: (county code, first birth year stdnum accepts for it): several provinces, all
#: checked by a test against stdnum.cn.ric for every birth year drawn.
REGIONS: Final = (
    ("110101", 1955), ("110102", 1955), ("120101", 1955), ("130102", 1983), ("140121", 1955),
    ("150121", 1955), ("210122", 1955), ("222401", 1955), ("230722", 1955), ("310101", 1955),
    ("310104", 1955), ("320102", 1983), ("330122", 1955), ("340121", 1955), ("350121", 1955),
    ("360121", 1955), ("370102", 1983), ("410102", 1983), ("422822", 1955), ("430121", 1955),
    ("440103", 1983), ("450102", 1983), ("510121", 1955), ("520201", 1955), ("530121", 1955),
    ("540121", 1955), ("610322", 1955), ("620121", 1955), ("630121", 1955), ("640121", 1955),
    ("650121", 1955),
)  # fmt: skip
BIRTH_YEARS: Final = (1960, 2004)  # borrowers of 20 to 65 in the reporting years
SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
    "许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
)
GIVEN: Final = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志红文辉鑫宇浩然子涵欣怡梓轩"
)
MOBILE_PREFIXES: Final = (
    *(f"{block}{digit}" for block in ("13", "15", "18") for digit in "0123456789"),
    *("166", "173", "175", "176", "177", "191", "198", "199"),
)
_USCC_BODY_CHARS: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: Non-resident ID types and their number shapes (letters keep them off amounts).
_OTHER_IDS: Final = (("2", "E", 8), ("5", "H", 8), ("6", "T", 8), ("8", "FRA", 12), ("X", "OT", 10))


class Borrower(NamedTuple):
    name: str
    id_type: str
    id_number: str
    mobile: str | None


class Pools(NamedTuple):
    borrowers: tuple[Borrower, ...]
    orgs: tuple[str, ...]
    resident_ids: tuple[str, ...]


def resident_id(rng: random.Random) -> str:
    """A random valid resident ID number."""
    region, first_year = rng.choice(REGIONS)
    born = datetime.date(rng.randint(max(first_year, BIRTH_YEARS[0]), BIRTH_YEARS[1]), 1, 1)
    born += datetime.timedelta(days=rng.randrange(365))
    body = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + gb11643_check_digit(body)


def uscc(rng: random.Random) -> str:
    """A random Unified Social Credit Code with a valid check character."""
    region = rng.choice(REGIONS)[0][:4] + "00"
    body = "91" + region + "".join(rng.choice(_USCC_BODY_CHARS[:10]) for _ in range(8))
    body += rng.choice(_USCC_BODY_CHARS)
    return body + uscc_check_char(body)


def _borrower(rng: random.Random) -> Borrower:
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    if rng.random() < 0.96:
        id_type, number = "10", resident_id(rng)
    else:
        id_type, prefix, size = rng.choice(_OTHER_IDS)
        number = prefix + "".join(str(rng.randrange(10)) for _ in range(size - len(prefix)))
    mobile = None
    if rng.random() < 0.85:
        mobile = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    return Borrower(name, id_type, number, mobile)


@lru_cache(maxsize=8)
def pools(seed: int) -> Pools:
    """The pools for a seed (cached: building them costs a few milliseconds)."""
    rng = random.Random(f"pools-{seed}")  # noqa: S311 - synthetic data, seeded on purpose
    borrowers = tuple(_borrower(rng) for _ in range(BORROWERS))
    orgs = tuple(dict.fromkeys(uscc(rng) for _ in range(ORGS)))
    residents = tuple(b.id_number for b in borrowers if b.id_type == "10")
    return Pools(borrowers, orgs, residents)
