"""The HTTP client: one method per API call, every proof checked before it is returned."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import quote

import httpx

from ledger import __version__
from ledger.client.errors import (
    ClientError,
    ServiceUnavailableError,
    UnexpectedResponseError,
    error_class,
    parse_retry_after,
    redact_url,
)
from ledger.client.models import (
    STATUSES,
    BatchInfo,
    Status,
    SubmissionReport,
    VerifyResult,
    member,
    obj,
    optional_str,
)
from ledger.errors import InputError, IntegrityError
from ledger.proofs import ProofBundle, record_leaf_hash, verify_bundle

if TYPE_CHECKING:
    from ledger.chain import Chain
    from ledger.chain.types import AnchorRecord

#: Items per ``POST /v1/verify`` request the server accepts (DESIGN.md, issue 4).
MAX_ITEMS: Final = 10_000
#: Body bytes per verify request; the server's default limit is 16 MiB.
MAX_BODY_BYTES: Final = 8 * 1024 * 1024
_REDACTED: Final = "[redacted]"
log = logging.getLogger("ledger.client")
_DEPRECATION_LINK: Final = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?deprecation\b')


class _Secret:
    """Holds the API key; shows as ``***`` in every repr."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__


def check_on_chain(bundle: ProofBundle, chain: Chain) -> AnchorRecord:
    """The anchor half of verification: :func:`ledger.chain.attest.check_anchor`.

    Raises :class:`~ledger.chain.attest.AnchorMismatchError` unless the registry the
    bundle names holds its batch with its root, tree size, block and time (one
    ``eth_call``) and the bundle's ``tx_hash`` is the successful transaction that
    anchored it there, in that block (its receipt and block header). Needs
    ``ledger.chain`` (web3), imported only here.
    """
    from ledger.chain.attest import check_anchor

    return check_anchor(chain, bundle)


class CreditAnchorClient:
    """A typed client of the CreditAnchor HTTP API for partner banks, auditors and operators.

    Every proof bundle received is checked offline (:func:`ledger.proofs.verify_bundle`)
    before it is returned, unless ``verify_offline=False``: an ``anchored`` answer whose
    bundle does not verify raises the typed :mod:`ledger.proofs` error instead. That
    checks the math only, not the anchor nor its transaction: pass a bundle and your
    own node's :class:`~ledger.chain.Chain` to :meth:`check_on_chain` for those.
    ``http``, when given, is used as is (its own timeout applies) and is not closed.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
        verify_offline: bool = True,
        max_items: int = MAX_ITEMS,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if max_items < 1 or max_body_bytes < 1:
            raise ValueError("max_items and max_body_bytes must be positive")
        self.base_url = base_url.rstrip("/")
        self._origin = redact_url(self.base_url)
        self._key = _Secret(api_key)
        self.verify_offline = verify_offline
        self.max_items = max_items
        self.max_body_bytes = max_body_bytes
        self._owns_http = http is None
        self._deprecated_seen: set[str] = set()
        self._http = http if http is not None else httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"CreditAnchorClient({self._origin!r}, verify_offline={self.verify_offline})"

    def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- API calls ---------------------------------------------------------------------

    def health(self) -> bool:
        """Liveness: ``True`` if the server answers; ``False`` if not (or 502, 503, 504)."""
        try:
            data = obj(self._call("GET", "/healthz", auth=False), "$")
        except ServiceUnavailableError:
            return False
        return data.get("status") == "ok"

    def ready(self) -> bool:
        """Readiness (store and chain answer): ``False`` on a 503 or no answer."""
        try:
            data = obj(self._call("GET", "/readyz", auth=False), "$")
        except ServiceUnavailableError:
            return False
        return data.get("status") == "ready"

    def batch(self, batch_id: str) -> BatchInfo:
        """A batch's manifest, status and anchor (any role)."""
        path = f"/v1/batches/{_segment(batch_id)}"
        return BatchInfo.from_json(self._call("GET", path, operation="/v1/batches/{batch_id}"))

    def proof(self, leaf_hash: str) -> ProofBundle:
        """The proof bundle of an anchored leaf, checked offline (partner, auditor)."""
        path = f"/v1/proofs/{_segment(leaf_hash)}"
        data = self._call("GET", path, operation="/v1/proofs/{leaf_hash}")
        bundle = self._bundle(data, "$")
        if "0x" + bundle.leaf_hash.hex() != leaf_hash.lower():
            raise IntegrityError(f"asked for the proof of leaf {leaf_hash}, got another leaf's")
        return bundle

    def verify_records(self, records: Sequence[Mapping[str, object]]) -> list[VerifyResult]:
        """Per desensitised record (with its salt): anchored, pending, unknown, mismatch or erased.

        Each record's leaf hash is computed here too: an answer for another leaf,
        or an anchored bundle for another record, raises :class:`IntegrityError`.
        """
        plain = [dict(r) for r in records]
        expected = ["0x" + record_leaf_hash(r).hex() for r in plain]
        return self._verify("records", plain, expected)

    def verify_leaf_hashes(self, hashes: Sequence[str]) -> list[VerifyResult]:
        """Per leaf hash, in order; requests above the server's item limit are split."""
        return self._verify("leaf_hashes", list(hashes), [h.lower() for h in hashes])

    def submit(self, rows: Sequence[Mapping[str, object]]) -> SubmissionReport:
        """Raw rows in, validated, desensitised and anchored in one request (operator)."""
        body = {"records": [dict(r) for r in rows]}
        return SubmissionReport.from_json(self._call("POST", "/v1/submissions", body=body))

    def check_on_chain(self, bundle: ProofBundle, chain: Chain) -> AnchorRecord:
        """See :func:`check_on_chain`."""
        return check_on_chain(bundle, chain)

    # -- plumbing ----------------------------------------------------------------------

    def _verify(self, field: str, items: list[Any], expected: list[str]) -> list[VerifyResult]:
        results: list[VerifyResult] = []
        for start, chunk in self._chunks(items):
            data = obj(self._call("POST", "/v1/verify", body={field: chunk}), "$")
            answers = member(data, "results", list, "$")
            if len(answers) != len(chunk):
                raise UnexpectedResponseError(
                    f"sent {len(chunk)} items, the server answered {len(answers)}"
                )
            for offset, answer in enumerate(answers):
                results.append(self._result(answer, offset, expected[start + offset]))
        return results

    def _chunks(self, items: list[Any]) -> Iterator[tuple[int, list[Any]]]:
        """``(start, items)`` slices of at most ``max_items`` and about ``max_body_bytes``."""
        start, size = 0, 0
        for i, item in enumerate(items):
            cost = len(_dumps(item)) + 1
            if i > start and (i - start >= self.max_items or size + cost > self.max_body_bytes):
                yield start, items[start:i]
                start, size = i, 0
            size += cost
        if start < len(items):
            yield start, items[start:]

    def _result(self, answer: object, offset: int, expected: str) -> VerifyResult:
        path = f"$.results[{offset}]"
        data = obj(answer, path)
        if data.get("index") != offset:
            raise UnexpectedResponseError(f"{path}.index is not {offset}: answers out of order")
        status = member(data, "status", str, path)
        if status not in STATUSES:
            raise UnexpectedResponseError(f"{path}.status is not a known outcome")
        leaf_hash = member(data, "leaf_hash", str, path)
        if leaf_hash != expected:
            raise IntegrityError(f"{path} answers for leaf {leaf_hash}, not {expected}")
        batch_id = optional_str(data, "batch_id", path)
        bundle = None
        if status == "anchored":
            if data.get("bundle") is None:
                raise IntegrityError(f"{path} is anchored without a proof bundle")
            bundle = self._bundle(data["bundle"], f"{path}.bundle")
            if "0x" + bundle.leaf_hash.hex() != expected:
                raise IntegrityError(f"{path}.bundle proves leaf 0x{bundle.leaf_hash.hex()}")
            if batch_id != "0x" + bundle.batch_id.hex():
                raise IntegrityError(f"{path}.bundle is for another batch than the answer")
        outcome: Status = status  # type: ignore[assignment]  # checked against STATUSES
        return VerifyResult(outcome, leaf_hash, batch_id, bundle)

    def _bundle(self, data: object, path: str) -> ProofBundle:
        bundle = ProofBundle.from_json(data)
        if self.verify_offline:
            verify_bundle(bundle)
        return bundle

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        auth: bool = True,
        operation: str | None = None,
    ) -> object:
        headers = {
            "Accept": "application/json, application/problem+json",
            "User-Agent": f"credit-anchor-client/{__version__}",
        }
        if auth:
            headers["Authorization"] = f"Bearer {self._key.reveal()}"
        content = None
        if body is not None:
            content = _dumps(body)
            headers["Content-Type"] = "application/json"
        where = f"{method} {self._origin}{path}"
        try:
            response = self._http.request(
                method, self.base_url + path, content=content, headers=headers
            )
        except httpx.TimeoutException:
            raise ServiceUnavailableError(f"{where}: timed out") from None
        except httpx.RequestError as exc:  # connection refused, reset, protocol, decoding
            raise ServiceUnavailableError(f"{where}: {type(exc).__name__}") from None
        except httpx.InvalidURL:
            raise ClientError(f"{where}: not a valid URL") from None
        self._note_deprecation(f"{method} {operation or path}", response.headers)
        if response.is_success:
            try:
                return response.json()
            except ValueError:
                raise UnexpectedResponseError(
                    f"{where}: the answer is not JSON", status=response.status_code
                ) from None
        raise self._error(response, where)

    def _note_deprecation(self, operation: str, headers: httpx.Headers) -> None:
        """Log once per operation that the server deprecated it (RFC 9745, RFC 8594)."""
        since = headers.get("Deprecation")
        if since is None or operation in self._deprecated_seen:
            return
        self._deprecated_seen.add(operation)
        sunset = headers.get("Sunset") or "not announced"
        link = _deprecation_link(headers.get_list("Link"))
        log.warning(
            "%s is deprecated by %s (Deprecation: %s; Sunset: %s)%s",
            operation,
            self._origin,
            _scrubbed_header(since),
            _scrubbed_header(sunset),
            f"; see {_scrubbed_header(link)}" if link else "",
        )

    def _error(self, response: httpx.Response, where: str) -> ClientError:
        status = response.status_code
        problem: Mapping[str, object] = {}
        try:
            parsed = response.json()
            if isinstance(parsed, dict):
                problem = parsed
        except ValueError:
            pass
        title = self._scrub(problem.get("title")) or response.reason_phrase or "error"
        detail = self._scrub(problem.get("detail"))
        problem_type = self._scrub(problem.get("type"))
        message = f"{where}: {status} {title}" + (f": {detail}" if detail else "")
        return error_class(status)(
            message,
            status=status,
            problem_type=problem_type,
            title=title,
            detail=detail,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            hint=self._scrub(problem.get("hint")),
        )

    def _scrub(self, value: object) -> str | None:
        """A server-given text, with the API key (should it ever be echoed) taken out."""
        if not isinstance(value, str):
            return None
        key = self._key.reveal()
        return value.replace(key, _REDACTED) if key else value


def _deprecation_link(values: Sequence[str]) -> str | None:
    """The target of a ``Link`` with ``rel="deprecation"``, if the server sent one."""
    for value in values:
        found = _DEPRECATION_LINK.search(value)
        if found:
            return found.group(1)
    return None


def _scrubbed_header(value: str) -> str:
    """A header value as it may appear in a log line: printable and short."""
    return "".join(c for c in value if c.isprintable())[:200]


def _segment(value: str) -> str:
    return quote(value, safe="")


def _dumps(value: object) -> bytes:
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        # json's own message may quote the value: say only what kind of problem it is.
        raise InputError(
            "the request body is not plain JSON (str, int, bool, null, lists, objects; "
            "no NaN or infinity)"
        ) from None
    return text.encode("utf-8", "surrogatepass")


__all__ = ["MAX_BODY_BYTES", "MAX_ITEMS", "CreditAnchorClient", "check_on_chain"]
