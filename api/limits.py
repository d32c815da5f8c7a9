"""Request body limits, applied before anything parses the body, in this order.

- Key: a request with a body must present a live API key (401 problem) before a
  byte of its body is read, so nobody without a key can make the server buffer
  or scan 16 MB. Under ``/ui`` the key is the console cookie's; signing in (the
  form brings the key) and out are read unkeyed, up to 1 KiB.
- Size: a body over ``max_body_bytes`` (declared or streamed) gets a 413 problem.
- Encoding: JSON between systems is UTF-8 (RFC 8259 §8.1). A ``charset`` other than
  UTF-8 gets a 415 problem; a byte-order mark, a NUL byte or invalid UTF-8 a 400.
  Python's ``json`` guesses UTF-16 and UTF-32 from NUL bytes and would read such a
  body as something other than what the scans below read: after this check every
  reader of the body reads the same UTF-8 text.
- Depth: a body nesting JSON deeper than ``max_json_depth`` gets a 400 problem.
  The check is a scan of strings and brackets over those UTF-8 bytes (no byte of a
  multi-byte UTF-8 sequence is a quote or a bracket), so the parser (which recurses
  per level, with the recursion limit raised to 100000 by py_ecc) never sees such
  input.
"""

from __future__ import annotations

import codecs
import re
from typing import Final

from fastapi import Request
from sqlalchemy.exc import OperationalError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import live_key
from api.errors import AuthenticationError, problem, problem_for, store_problem
from api.ui import session
from api.ui.headers import is_console
from ledger.errors import LedgerError
from ledger.jsontext import json_depth

#: UTF-8, UTF-16 and UTF-32 byte-order marks (UTF-32-LE's starts with UTF-16-LE's).
_BOMS: Final = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)
_UTF8_NAMES: Final = frozenset({"utf-8", "utf8"})
_CHARSET: Final = re.compile(rb';\s*charset\s*=\s*"?([^";\s]*)', re.IGNORECASE)


class Utf8Check:
    """Whether the chunks of a body, fed in order, are UTF-8 JSON text (see the module doc)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._first = True
        self.problem: str | None = None

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        if self.problem is not None:
            return
        if self._first and chunk:
            self._first = False
            if chunk.startswith(_BOMS):
                self.problem = "the body starts with a byte-order mark; send UTF-8 JSON without one"
                return
        if b"\0" in chunk:
            self.problem = "the body holds a NUL byte; send UTF-8 JSON (not UTF-16 or UTF-32)"
            return
        if chunk.isascii() and not final and not self._decoder.getstate()[0]:
            return  # ASCII is UTF-8 (and no multi-byte sequence is left open before it)
        try:
            self._decoder.decode(chunk, final)
        except UnicodeDecodeError:
            self.problem = "the body is not valid UTF-8; send UTF-8 JSON"


def charset_problem(scope: Scope) -> str | None:
    """Why the declared ``Content-Type`` charset is refused, or None (absent or UTF-8)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            found = _CHARSET.search(value)
            if found is not None and found.group(1).decode("latin-1").lower() not in _UTF8_NAMES:
                return "request bodies are UTF-8 JSON (RFC 8259 section 8.1); charset refused"
    return None


class BodyLimits:
    """ASGI middleware: check the key, then read the body up to a size, check its
    encoding and depth, and replay it."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # The console's login form brings the key in its body: a small one, read unkeyed.
        unkeyed = scope["path"] in session.UNKEYED_POSTS
        limit = session.LOGIN_MAX_BYTES if unkeyed else self.max_bytes
        refused = await self._refusal(scope, limit, unkeyed=unkeyed)
        if refused is not None:
            await refused(scope, receive, send)
            return
        check = Utf8Check()
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(limit)(scope, receive, send)
                return
            more = message.get("more_body", False)
            check.feed(chunk, final=not more)
            chunks.append(chunk)
        if check.problem is not None:
            await problem(400, "not-utf8", check.problem)(scope, receive, send)
            return
        body = b"".join(chunks)
        if json_depth(body, self.max_depth) > self.max_depth:
            detail = f"the body nests deeper than {self.max_depth} levels"
            await problem(400, "too-deep", detail)(scope, receive, send)
            return
        await self.app(scope, replay_body(body, receive), send)

    async def _refusal(self, scope: Scope, limit: int, *, unkeyed: bool) -> Response | None:
        """The answer to a request refused before its body is read, or None."""
        if self._declared_length(scope) > limit:
            return self._too_large(limit)
        retry_after = scope["app"].state.retry_after
        request = Request(scope)
        try:
            if not is_console(scope["path"]):
                await live_key(request)
            elif not unkeyed and await session.console_key(request) is None:
                raise AuthenticationError("sign in to the console first")
        except LedgerError as exc:
            return problem_for(exc, retry_after=retry_after)
        except OperationalError as exc:
            return store_problem(exc, retry_after=retry_after)
        charset = charset_problem(scope)
        return None if charset is None else problem(415, "unsupported-media-type", charset)

    def _declared_length(self, scope: Scope) -> int:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    def _too_large(self, limit: int) -> Response:
        return problem(413, "too-large", f"the body is larger than {limit} bytes")


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` (already read) once, then what ``receive`` gives."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
