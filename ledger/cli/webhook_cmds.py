"""``ledger partner webhook set|rotate|test``: a bank's webhook endpoint and signing keys.

The signing secret (``whsec_``) and public key (``whpk_``) are printed once, when
issued (the first ``set``, each ``rotate``); the store keeps them sealed. The
alert modules are imported inside the commands: every other command starts
without urllib3 and the Ed25519 code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli._common import (
    DataDirOpt,
    JsonOpt,
    command,
    console,
    ensure_data_dir,
    print_json,
    settings_for,
)
from ledger.config import Settings
from ledger.store import Store

if TYPE_CHECKING:
    from ledger.alerts.endpoints import EndpointInfo, IssuedKeys

InstitutionArg = Annotated[
    str,
    typer.Argument(help="The bank's institution code, as `ledger partner add --institution`."),
]


def _settings_and_store(data_dir: DataDirOpt) -> tuple[Settings, Store]:
    settings = settings_for(data_dir)
    ensure_data_dir(settings.data_dir)  # the sealing key lives there
    return settings, Store.for_settings(settings)


def _show(info: EndpointInfo, issued: IssuedKeys | None, as_json: bool) -> None:
    if as_json:
        print_json({**info.to_json(), "issued": None if issued is None else issued.to_json()})
        return
    console.print(f"webhook for {info.institution}: {info.url} ({info.status})", markup=False)
    if info.disabled_reason:
        console.print(f"disabled at {info.disabled_at}: {info.disabled_reason}", markup=False)
    if issued is None:
        console.print(f"signing keys unchanged (generation of {len(info.public_keys)} live)")
        return
    console.print(f"signing keys, generation {issued.generation}:")
    console.print(f"  secret (v1 HMAC):      {issued.secret}", markup=False, soft_wrap=True)
    console.print(f"  public key (v1a Ed25519): {issued.public_key}", markup=False, soft_wrap=True)
    console.print("Give them to the bank now: the secret is not shown again.")


@command
def set_cmd(
    institution: InstitutionArg,
    url: Annotated[str, typer.Argument(help="https URL (http only to allowlisted hosts).")],
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set a bank's webhook URL; the first time, print its signing keys once.

    Setting it again keeps the keys and re-enables a disabled endpoint (and its deliveries).

    Example: ledger partner webhook set 91350211MA2XYZ1234 https://risk.bank.example/hooks/anchor
    """
    from ledger.alerts.destinations import Allowlist
    from ledger.alerts.endpoints import set_endpoint
    from ledger.alerts.sealing import Sealer

    settings, store = _settings_and_store(data_dir)
    try:
        allow = Allowlist.parse(settings.alert_allow_hosts)
        sealer = Sealer.for_data_dir(settings.data_dir)
        info, issued = set_endpoint(store, sealer, institution, url, allow=allow)
    finally:
        store.close()
    _show(info, issued, as_json)


@command
def rotate(
    institution: InstitutionArg,
    grace: Annotated[
        float | None,
        typer.Option(
            "--grace",
            min=0,
            help="Seconds the old keys keep signing beside the new ones "
            "(default: LEDGER_ALERT_SECRET_GRACE, 24 h).",
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue new signing keys for a bank and print them once; the old ones retire after --grace.

    Example: ledger partner webhook rotate 91350211MA2XYZ1234 --grace 3600
    """
    from ledger.alerts.endpoints import rotate_keys
    from ledger.alerts.sealing import Sealer

    settings, store = _settings_and_store(data_dir)
    try:
        sealer = Sealer.for_data_dir(settings.data_dir)
        seconds = settings.alert_secret_grace if grace is None else grace
        info, issued = rotate_keys(store, sealer, institution, grace_seconds=seconds)
    finally:
        store.close()
    _show(info, issued, as_json)


@command
def ping_cmd(
    institution: InstitutionArg, data_dir: DataDirOpt = None, as_json: JsonOpt = False
) -> None:
    """Send a signed `ping` to a bank's webhook now and print its answer.

    Exits 1 unless the endpoint answers 2xx.

    Example: ledger partner webhook test 91350211MA2XYZ1234
    """
    from ledger.alerts.dispatcher import DispatchConfig, send_ping
    from ledger.alerts.errors import DeliveryFailedError
    from ledger.alerts.sealing import Sealer

    settings, store = _settings_and_store(data_dir)
    try:
        config = DispatchConfig.from_settings(settings)
        info, answer = send_ping(store, Sealer.for_data_dir(settings.data_dir), institution, config)
    finally:
        store.close()
    ok = answer.status_code is not None and 200 <= answer.status_code < 300
    if not ok:
        what = answer.error or f"HTTP {answer.status_code}"
        raise DeliveryFailedError(f"ping to {answer.target} failed: {what}")
    if as_json:
        print_json({"institution": info.institution, "endpoint_status": info.status,
                    "target": answer.target, "status_code": answer.status_code,
                    "duration_ms": answer.duration_ms})  # fmt: skip
        return
    console.print(
        f"ping to {answer.target}: HTTP {answer.status_code} in {answer.duration_ms} ms"
        + (f" (endpoint is {info.status})" if info.status != "active" else ""),
        markup=False,
    )


#: ``ledger partner webhook``, added to the ``partner`` group.
webhook_app = typer.Typer(
    help="Webhook endpoints of partner banks: set, rotate, test.", no_args_is_help=True
)
webhook_app.command("set")(set_cmd)
webhook_app.command("rotate")(rotate)
webhook_app.command("test")(ping_cmd)
