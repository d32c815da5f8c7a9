"""Type stub of the C extension ``_speedups`` (ledger._speedups.c)."""

from collections.abc import Callable

SCHEMA: tuple[tuple[str, str, bool, bool, str], ...]
MAX_LIST: int

_Slot = tuple[str, str, str | None, str | None, bytes | None, bytes | None, str | None]
_Answer = tuple[str, bytes, bytes] | list[tuple[str, str]]

class Plan:
    def __init__(
        self,
        *,
        header: tuple[str, ...],
        slots: tuple[_Slot, ...],
        key_ids_json: bytes | None,
        key_id_texts: tuple[str, ...],
        currencies: tuple[str, ...],
        today: str,
        facts: Callable[[str], tuple[str | None, str]],
    ) -> None: ...
    def process(
        self,
        text: str,
        slow: Callable[[int, str], _Answer],
        salts: bytes | None = None,
        seed: bytes | None = None,
    ) -> tuple[
        bytes, list[str], bytes, bytes, bytes, list[tuple[int, str, str]], int, int, str | None
    ]: ...

def merkle_root(hashes: bytes, /) -> bytes: ...
def record_keys(ids: list[str], /) -> list[int]: ...
def json_scan(body: bytes, /) -> tuple[int, bool]: ...
def jcs_records(body: bytes, max_items: int, /) -> tuple[list[bytes], list[bytes]] | None: ...
def inclusion_jsons(
    levels: list[list[bytes]],
    indexes: list[int],
    head: bytes,
    records: list[bytes | None] | None,
    tail: bytes,
    /,
) -> list[bytes]: ...
