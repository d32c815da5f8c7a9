"""A readable, self-contained HTML rendering of an audit report (no scripts, no assets)."""

from __future__ import annotations

from html import escape

from ledger.audit.findings import CODES, WHERE, AuditReport

_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left}"
    ".critical{color:#a00}.error{color:#c50}.warning{color:#860}.info{color:#555}"
    "code{font-size:12px}"
)


def _cell(value: object) -> str:
    return "" if value is None else f"<code>{escape(str(value))}</code>"


def render_html(report: AuditReport) -> str:
    verdict = "CLEAN" if report.clean else f"{len(report.failing)} FINDING(S)"
    rows = []
    for f in report.findings:
        where = ", ".join(
            f"{name} {_cell(getattr(f, name))}" for name in WHERE if getattr(f, name) is not None
        )
        rows.append(
            f"<tr class='{f.severity.label}'><td>{f.severity.label}</td><td>{f.code}</td>"
            f"<td>{escape(f.message)}</td><td>{where}</td>"
            f"<td>{_cell(f.expected)}</td><td>{_cell(f.found)}</td></tr>"
        )
    chain = "".join(
        f"<tr><th>{escape(k)}</th><td>{_cell(v)}</td></tr>" for k, v in report.chain.items()
    )
    checked = "".join(
        f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in sorted(report.checked.items())
    )
    legend = "".join(
        f"<tr><td>{code}</td><td>{sev.label}</td><td>{escape(text)}</td></tr>"
        for code, (sev, text) in CODES.items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>CreditAnchor audit</title>"
        f"<style>{_STYLE}</style></head><body><h1>CreditAnchor audit: {verdict}</h1>"
        f"<h2>Chain</h2><table>{chain}</table><h2>Checked</h2><table>{checked}</table>"
        "<h2>Findings</h2><table><tr><th>severity</th><th>code</th><th>what</th><th>where</th>"
        f"<th>expected</th><th>found</th></tr>{''.join(rows)}</table>"
        f"<h2>Finding codes</h2><table>{legend}</table></body></html>\n"
    )
