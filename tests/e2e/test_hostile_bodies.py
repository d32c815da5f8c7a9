"""Bodies that once killed ``ledger serve`` (issue 17), sent to a real server process.

A UTF-16 body whose quote byte hid 99,000 brackets from the depth scans reached
``json.loads``, which guessed the encoding, recursed once per level (py_ecc sets the
recursion limit to 100,000) and overflowed the C stack: SIGSEGV, before any key was
checked. Every body here must get a 4xx problem, and the same server must answer
the next good request.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._keys import api_key, bearer
from tests.conftest import copy_deployment
from tests.e2e.test_serve import HTTP, _env, serving

DEEP = 99_000
#: The reviewer's body: a CJK value (U+4E22 is 0x22 0x4E in UTF-16-LE: a quote byte).
PREFIX = '{"records":[{"a":"丢","b":'
ENDPOINTS = ("/v1/verify", "/v1/consents/check")


def _bodies() -> dict[str, bytes]:
    text = PREFIX + "[" * DEEP
    return {
        "utf-16-le": text.encode("utf-16-le"),
        "utf-16-be": text.encode("utf-16-be"),
        "utf-32-le": text.encode("utf-32-le"),
        "utf-32-be": text.encode("utf-32-be"),
        "utf-16 with BOM": text.encode("utf-16"),
        "utf-8 with BOM": codecs.BOM_UTF8 + text.encode(),
        "utf-8": text.encode(),
        "invalid utf-8": text.encode()[:-DEEP] + b"\xff" + b"[" * DEEP,
    }


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, deployed_template: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("hostile")
    data_dir = copy_deployment(deployed_template, tmp / "data")  # what `ledger deploy` leaves
    headers = bearer(api_key(data_dir, "bank-a", "partner", institution="91110000100000000A"))
    with serving(_env(data_dir), tmp / "serve.log") as url:
        yield url, headers


def _still_serves(url: str, headers: dict[str, str]) -> None:
    assert HTTP.get(url + "/healthz", timeout=30).status_code == 200
    good = {"leaf_hashes": ["0x" + "00" * 32]}
    answer = HTTP.post(url + "/v1/verify", json=good, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] == "unknown"


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("with_key", [False, True], ids=["no key", "key"])
def test_no_encoding_or_depth_brings_the_server_down(
    server: tuple[str, dict[str, str]], endpoint: str, with_key: bool
) -> None:
    url, headers = server
    for name, body in _bodies().items():
        sent = {"Content-Type": "application/json", **(headers if with_key else {})}
        answer = HTTP.post(url + endpoint, content=body, headers=sent, timeout=60)
        assert 400 <= answer.status_code < 500, (name, answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json", name
        if not with_key:
            assert answer.status_code == 401, name  # refused before the body is read
        _still_serves(url, headers)


@pytest.mark.slow
def test_a_declared_charset_other_than_utf8_is_415(server: tuple[str, dict[str, str]]) -> None:
    url, headers = server
    body = json.dumps({"leaf_hashes": ["0x" + "00" * 32]}).encode("utf-16")
    sent = {**headers, "Content-Type": "application/json; charset=utf-16"}
    answer = HTTP.post(url + "/v1/verify", content=body, headers=sent, timeout=30)
    assert answer.status_code == 415, answer.text
    assert answer.json()["code"] == "unsupported-media-type"
    _still_serves(url, headers)


def test_utf8_names_its_problem_per_encoding(tmp_path: Path) -> None:
    """The in-process check the server runs, one reason per kind of body."""
    from api.limits import Utf8Check

    reasons = {}
    for name, body in _bodies().items():
        check = Utf8Check()
        for start in range(0, len(body), 4096):  # as a server receives it: in chunks
            check.feed(body[start : start + 4096], final=start + 4096 >= len(body))
        reasons[name] = check.problem
    assert reasons["utf-8"] is None
    assert "byte-order mark" in str(reasons["utf-8 with BOM"])
    assert "byte-order mark" in str(reasons["utf-16 with BOM"])
    for name in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        assert "NUL" in str(reasons[name]), name
    assert "not valid UTF-8" in str(reasons["invalid utf-8"])


def test_a_multibyte_character_split_across_chunks_is_utf8() -> None:
    from api.limits import Utf8Check

    text = '{"a":"丢"}'.encode()
    for cut in range(1, len(text)):
        check = Utf8Check()
        check.feed(text[:cut])
        check.feed(text[cut:], final=True)
        assert check.problem is None, cut
    check = Utf8Check()  # an open sequence, then ASCII, then its continuation bytes
    for piece, final in ((b"\xe4", False), (b"a", False), (b"\xb8\xa2", True)):
        check.feed(piece, final=final)
    assert check.problem is not None
