"""Display masks (JR/T 0171-2020 "去标识化" by partial hiding). Lengths are kept.

* ``name``   - first character, then one ``*`` per remaining one: ``张三丰`` -> ``张**``
* ``id``     - first and last character, ``*`` between: 18 characters -> ``1****************X``
* ``mobile`` - first 3 and last 4 digits: ``138****5678``
* ``card``   - first 6 and last 4 (PCI DSS display rule): ``622202******1234``

A value too short for its style to hide anything is masked completely; a value
too short for ``mobile`` or ``card`` falls back to ``id``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

MOBILE_LENGTH: Final = 11
MIN_CARD_LENGTH: Final = 13  # shorter than this, 6 + 4 visible characters would show most of it


def mask_name(value: str) -> str:
    return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*" * len(value)


def mask_id(value: str) -> str:
    return value[0] + "*" * (len(value) - 2) + value[-1] if len(value) > 2 else "*" * len(value)


def mask_mobile(value: str) -> str:
    return value[:3] + "****" + value[7:] if len(value) == MOBILE_LENGTH else mask_id(value)


def mask_card(value: str) -> str:
    if len(value) < MIN_CARD_LENGTH:
        return mask_id(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


MASKS: Final[Mapping[str, Callable[[str], str]]] = {
    "name": mask_name,
    "id": mask_id,
    "mobile": mask_mobile,
    "card": mask_card,
}
