"""The console's labels in English and Chinese (the users are Chinese institutions).

One table, one row per label: a page names a label, never a language. The language
is the ``lang`` query parameter when given (kept in a cookie), else the cookie,
else the browser's ``Accept-Language``; English when none of them says Chinese.
"""

from __future__ import annotations

from typing import Final

from fastapi import Request

LANGS: Final = ("en", "zh")
DEFAULT: Final = "en"

#: label -> (English, Chinese)
LABELS: Final[dict[str, tuple[str, str]]] = {
    "title": ("CreditAnchor console", "CreditAnchor 控制台"),
    "skip": ("Skip to content", "跳到正文"),
    "nav": ("Sections", "栏目"),
    "lang_switch": ("中文", "English"),
    "sign_in": ("Sign in", "登录"),
    "sign_out": ("Sign out", "退出"),
    "api_key": ("API key", "API 密钥"),
    "api_key_help": (
        "The key from `ledger partner add`. It is kept in a cookie this site only can send.",
        "由 `ledger partner add` 生成的密钥，保存在仅本站可发送的 Cookie 中。",
    ),
    "signed_in_as": ("Signed in as", "当前用户"),
    "role": ("Role", "角色"),
    "institution": ("Institution", "机构"),
    "bad_key": ("That key is unknown or revoked.", "该密钥不存在或已被吊销。"),
    "need_role": ("This page is for another role.", "此页面属于其他角色。"),
    "cross_site": ("The form did not come from this console.", "表单并非来自本控制台。"),
    "home": ("Home", "首页"),
    "verify": ("Verify a bundle", "验证证明包"),
    "bank": ("Bank view", "银行视图"),
    "auditor": ("Auditor view", "审计视图"),
    "operator": ("Operator view", "运维视图"),
    "utc_hint": ("Times in your locale; UTC on hover.", "时间按本地显示，悬停显示 UTC。"),
    "nothing": ("Nothing yet.", "暂无数据。"),
    # The role views (bank, auditor, operator) and the proof page.
    "book": ("Co-funded book by days past due", "联合出资贷款（按逾期天数）"),
    "band": ("Days past due", "逾期天数"),
    "band_0": ("Not overdue", "未逾期"),
    "loans": ("Loans", "笔数"),
    "balance_share": ("Your share of the balance", "本行份额余额"),
    "alerts": ("Risk alerts", "风险预警"),
    "alerts_open": ("Open (not acknowledged)", "未确认"),
    "alerts_total": ("Alerts", "预警总数"),
    "alert_id": ("Alert", "预警编号"),
    "event_type": ("Event", "事件"),
    "loan_ref": ("Loan reference", "贷款引用号"),
    "dpd": ("DPD", "逾期天数"),
    "created_at": ("Created", "创建时间"),
    "delivery": ("Delivery", "推送"),
    "pulled": ("pulled (no webhook)", "拉取（无 Webhook）"),
    "ack": ("Acknowledged", "已确认"),
    "not_acked": ("not yet", "未确认"),
    "proof": ("Proof", "证明"),
    "next_page": ("Next page", "下一页"),
    "inquiries": ("Consent checks and inquiries", "授权核验与查询记录"),
    "purpose": ("Purpose", "用途"),
    "result": ("Result", "结果"),
    "reason": ("Reason", "原因"),
    "checked_at": ("Checked", "核验时间"),
    "batch_col": ("Batch", "批次"),
    "batches": ("Batches", "批次"),
    "batches_shown": ("Latest batches shown", "显示最近批次"),
    "of_total": ("of", "共"),
    "root": ("Merkle root", "Merkle 根"),
    "size": ("Size", "大小"),
    "kind": ("Kind", "类型"),
    "kind_1": ("credit data", "信贷数据"),
    "kind_2": ("inquiry log", "查询日志"),
    "kind_3": ("consent receipts", "授权凭证"),
    "kind_4": ("risk-alert log", "风险预警日志"),
    "anchor_tx": ("Anchor transaction", "锚定交易"),
    "block": ("Block", "区块"),
    "block_time": ("Block time", "区块时间"),
    "lag": ("Lag (s)", "延迟（秒）"),
    "status": ("Status", "状态"),
    "log_check": ("Log head against the chain", "链上日志头核对"),
    "log_head": ("logHead (chain)", "logHead（链上）"),
    "anchor_count": ("anchorCount (chain)", "anchorCount（链上）"),
    "stored_anchors": ("Anchored batches in the store", "存储中已锚定批次"),
    "agrees": ("agrees", "一致"),
    "differs": ("differs", "不一致"),
    "unavailable": ("unavailable", "不可用"),
    "audit_report": ("Latest audit report", "最近审计报告"),
    "no_report": ("No `ledger audit` report yet.", "尚无 `ledger audit` 报告。"),
    "written_at": ("Written", "生成时间"),
    "clean": ("clean", "无问题"),
    "findings": ("Findings", "发现的问题"),
    "severity": ("Severity", "严重程度"),
    "code": ("Code", "代码"),
    "what": ("What", "说明"),
    "where": ("Where", "位置"),
    "expected": ("Expected", "应为"),
    "found": ("Found", "实际"),
    "checked": ("Checked", "已核对"),
    "chain": ("Chain", "链"),
    "replay": ("Quick completeness check", "快速完整性检查"),
    "replay_help": (
        "Replays every BatchAnchored event from the deployment block and compares the "
        "recomputed log head and count with the registry's.",
        "从部署区块起重放全部 BatchAnchored 事件，并将重算的日志头与计数同合约比对。",
    ),
    "replay_run": ("Run the check", "运行检查"),
    "replay_failed": ("The check could not run", "检查未能运行"),
    "in_flight": ("Submissions in flight", "处理中的提交"),
    "recent": ("Recent submissions", "最近提交"),
    "submission": ("Submission", "提交"),
    "rows_done": ("Rows done", "已处理行"),
    "accepted": ("Accepted", "接受"),
    "rejected": ("Rejected", "拒绝"),
    "rejections": ("Rejections by reason", "拒绝原因统计"),
    "field": ("Field", "字段"),
    "count": ("Count", "数量"),
    "pending_anchors": ("Anchors pending", "待锚定"),
    "anchor_lag": ("Anchor lag by kind", "各类型锚定延迟"),
    "pending": ("Pending", "待处理"),
    "oldest_wait": ("Oldest waits (s)", "最久等待（秒）"),
    "last_lag": ("Last anchor took (s)", "最近锚定耗时（秒）"),
    "health": ("Chain and store health", "链与存储状态"),
    "store": ("Store", "存储"),
    "block_number": ("Block number", "区块高度"),
    "metric": ("Metric", "指标"),
    "labels": ("Labels", "标签"),
    "value": ("Value", "值"),
    "proof_of": ("Proof bundle", "证明包"),
    "proof_failed": ("No proof bundle for this leaf.", "该叶子没有证明包。"),
    "leaf": ("Leaf hash", "叶子哈希"),
    "leaf_index": ("Leaf index", "叶子序号"),
    "tree_size": ("Tree size", "树大小"),
    "record": ("Record", "记录"),
    "with_record": ("included", "已包含"),
    "no_findings": ("No findings.", "未发现问题。"),
    "hash_only": ("Hash only (the record is its reporter's)", "仅哈希（记录属于报送机构）"),
    "download": ("The bundle (JSON)", "证明包（JSON）"),
}


def lang_of(request: Request) -> str:
    """The page's language (see the module doc)."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    kept = request.cookies.get("ledger_console_lang")
    if kept in LANGS:
        return kept
    accepted = request.headers.get("accept-language", "").lower()
    return "zh" if accepted.startswith("zh") else DEFAULT


def translator(lang: str) -> dict[str, str]:
    """Every label in ``lang``."""
    column = LANGS.index(lang)
    return {name: texts[column] for name, texts in LABELS.items()}
