"""Several JSON-RPC URLs of one chain behind one web3 provider: :class:`FailoverProvider`.

A request goes to the node that answered last; when it cannot be reached (refused,
reset, timed out, an HTTP error from a proxy in front of it) the same request goes
to the next URL, and that node serves from then on. A node's JSON-RPC error is an
answer, not an outage: it is returned as it is. Before a node serves for the first
time its chain id is checked against the chain's, so a URL of another network is
refused instead of being written to. URLs appear in logs and errors only as
:func:`~ledger.chain.failures.redact_url` leaves them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from web3.providers import HTTPProvider, JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from ledger.chain.errors import ChainUnavailableError
from ledger.chain.failures import redact_url
from ledger.errors import ConfigurationError
from ledger.logs import event as log_event

log = logging.getLogger(__name__)

#: What says "this node cannot be reached": requests' errors (ConnectionError,
#: Timeout, HTTPError) are all OSError, and so is TimeoutError.
UNREACHABLE: Final = (OSError,)
#: When no node answers, the whole list is tried again this many times, after
#: RETRY_BACKOFF, 2 x RETRY_BACKOFF, ... seconds: a node restarting or a load
#: balancer switching over is a blip of a second or two, not an outage (what web3's
#: own HTTPProvider retries did for one URL; they are off here, the next URL first).
RETRY_ROUNDS: Final = 2
RETRY_BACKOFF: Final = 0.25
_CHAIN_ID = RPCEndpoint("eth_chainId")

T = TypeVar("T")


def split_urls(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"a,b"`` or ``["a", "b,c"]`` -> ``("a", "b", "c")``, blanks and repeats dropped."""
    parts = [value] if isinstance(value, str) else list(value)
    urls = [u.strip() for part in parts for u in part.split(",")]
    return tuple(dict.fromkeys(u for u in urls if u))


def describe(urls: Sequence[str]) -> str:
    """The URLs as errors may show them: redacted, comma-separated."""
    return ", ".join(redact_url(u) for u in urls)


class FailoverProvider(JSONBaseProvider):
    """One provider over the nodes at ``urls`` (all of one chain), tried in turn."""

    def __init__(self, urls: Sequence[str], *, request_timeout: float) -> None:
        super().__init__()
        if not urls:
            raise ConfigurationError("no JSON-RPC URL given", hint="set --rpc / LEDGER_RPC_URL")
        self.urls = tuple(urls)
        # No retries inside a node: the next URL is the retry.
        self._nodes = [
            HTTPProvider(
                url, request_kwargs={"timeout": request_timeout}, exception_retry_configuration=None
            )
            for url in self.urls
        ]
        self._current = 0
        self._lock = threading.Lock()
        #: Times a request moved to another node; a sender re-broadcasts when it changes.
        self.switches = 0
        self.chain_id: int | None = None
        self._checked: set[int] = set()

    @property
    def current_url(self) -> str:
        return self.urls[self._current]

    def open(self) -> int:
        """Ask every node its chain id; they must agree. Returns it.

        A node that cannot be reached now is checked when it first has to serve;
        at least one must answer.
        """
        ids: dict[int, int] = {}
        for i, node in enumerate(self._nodes):
            try:
                ids[i] = _chain_id_of(node)
            except UNREACHABLE:
                log_event(log, "rpc node unreachable at open", node=redact_url(self.urls[i]))
        if not ids:
            raise ChainUnavailableError(
                f"cannot reach any JSON-RPC node ({describe(self.urls)})",
                hint="Check the URLs (--rpc / LEDGER_RPC_URL) and that a node is running.",
            )
        if len(set(ids.values())) > 1:
            seen = ", ".join(f"{redact_url(self.urls[i])} -> {c}" for i, c in ids.items())
            raise ConfigurationError(
                f"the JSON-RPC URLs are not all of one chain ({seen})",
                hint="list only nodes of the same network in --rpc / LEDGER_RPC_URL",
            )
        self.chain_id = next(iter(ids.values()))
        self._checked = set(ids)
        self._current = min(ids)
        return self.chain_id

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return self._each(lambda node: node.make_request(method, params))

    def make_batch_request(
        self, requests: list[tuple[RPCEndpoint, Any]]
    ) -> list[RPCResponse] | RPCResponse:
        return self._each(lambda node: node.make_batch_request(requests))

    def _each(self, call: Callable[[HTTPProvider], T]) -> T:
        """``call`` on the current node, then on each next one while they cannot be reached;
        the whole list again after a pause (:data:`RETRY_ROUNDS`) if none can."""
        for pause in (RETRY_BACKOFF * 2**r for r in range(RETRY_ROUNDS)):
            try:
                return self._round(call)
            except UNREACHABLE:
                time.sleep(pause)
        return self._round(call)

    def _round(self, call: Callable[[HTTPProvider], T]) -> T:
        start = self._current
        last: BaseException | None = None
        for step in range(len(self._nodes)):
            i = (start + step) % len(self._nodes)
            try:
                self._check(i)
                answer = call(self._nodes[i])
            except UNREACHABLE as exc:
                last = exc
                continue
            if i != self._current:
                self._switch_to(i, start)
            return answer
        assert last is not None
        raise last

    def _check(self, i: int) -> None:
        """Refuse node ``i`` if it is on another chain (asked once, before it first serves)."""
        if i in self._checked or self.chain_id is None:
            return
        found = _chain_id_of(self._nodes[i])
        if found != self.chain_id:
            raise ConfigurationError(
                f"the JSON-RPC node {redact_url(self.urls[i])} is on chain {found}, "
                f"not {self.chain_id}",
                hint="list only nodes of the same network in --rpc / LEDGER_RPC_URL",
            )
        self._checked.add(i)

    def _switch_to(self, i: int, was: int) -> None:
        with self._lock:
            self._current = i
            self.switches += 1
        log_event(
            log,
            "rpc failover",
            level=logging.WARNING,
            lost=redact_url(self.urls[was]),
            now=redact_url(self.urls[i]),
        )


def _chain_id_of(node: HTTPProvider) -> int:
    answer = node.make_request(_CHAIN_ID, [])
    if "result" not in answer:
        raise ConfigurationError(f"a JSON-RPC node did not tell its chain id: {answer}"[:300])
    return int(str(answer["result"]), 16)
