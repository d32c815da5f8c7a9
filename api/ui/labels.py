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
    # The verify page (api/ui/templates/verify.html, api/ui/static/verify.js).
    "verify_intro": (
        "Check proof bundles in this browser: the record's canonical bytes (RFC 8785), its leaf "
        "hash and the Merkle root are computed on this page. Only the anchor (chain, registry, "
        "batch and root) is asked of the server, which asks its registry.",
        "在本浏览器中核验证明包：记录的规范字节（RFC 8785）、叶哈希和默克尔根均在本页计算。"
        "只有锚定信息（链、合约、批次和根）会发给服务器，由服务器查询其登记合约。",
    ),
    "step_record": ("record", "记录"),
    "step_leaf": ("leaf", "叶哈希"),
    "step_path": ("path", "路径"),
    "step_root": ("root", "根"),
    "step_anchor": ("anchor", "锚定"),
    "step_format": ("format", "格式"),
    "step_record_help": (
        "the record has RFC 8785 canonical bytes (absent when erased or hash-only)",
        "记录具有 RFC 8785 规范字节（已删除或仅哈希时不含记录）",
    ),
    "step_leaf_help": (
        "SHA-256(0x00 || those bytes) is the bundle's leaf_hash",
        "SHA-256(0x00 || 规范字节) 等于证明包中的 leaf_hash",
    ),
    "step_path_help": (
        "the audit path from leaf_hash at leaf_index leads to the root (RFC 9162)",
        "从 leaf_index 处的 leaf_hash 沿审计路径可得到根（RFC 9162）",
    ),
    "step_root_help": (
        "the bundle's root is the root the registry holds for the batch",
        "证明包中的根就是登记合约为该批次保存的根",
    ),
    "step_anchor_help": (
        "this server's registry holds the batch with this root, size, block and time",
        "本服务器的登记合约保存了该批次，且根、大小、区块和时间一致",
    ),
    "verify_nojs": (
        "Verifying in the page needs JavaScript. Without it, run `ledger verify BUNDLE`.",
        "在页面中核验需要 JavaScript；否则请运行 `ledger verify BUNDLE`。",
    ),
    "verify_file": (
        "Bundle or export file (JSON, or JSON lines from `ledger export`)",
        "证明包或导出文件（JSON，或 `ledger export` 的 JSON 行）",
    ),
    "verify_drop": ("Choose a file, or drop it here.", "选择文件，或拖放到此处。"),
    "results": ("Results", "结果"),
    "server_check_title": ("Check on the server", "在服务器上核验"),
    "server_check_help": (
        "Sends the records of the bundles to this server, which looks them up in its store.",
        "将证明包中的记录发送到本服务器，由服务器在其存储中查找。",
    ),
    "server_check": ("Check on the server", "在服务器上核验"),
    # Messages of verify.js ({name}: filled in by the script).
    "no_crypto": (
        "This page cannot hash: WebCrypto works only over HTTPS or on localhost.",
        "本页无法计算哈希：WebCrypto 仅在 HTTPS 或 localhost 下可用。",
    ),
    "too_big": ("The file is larger than {mb} MB.", "文件大于 {mb} MB。"),
    "empty_file": ("The file is empty.", "文件为空。"),
    "bad_json": ("Line {line} is not JSON: {reason}", "第 {line} 行不是 JSON：{reason}"),
    "working": ("Verifying {n} bundles…", "正在核验 {n} 个证明包…"),
    "not_object": ("must be a JSON object", "必须是 JSON 对象"),
    "not_hex32": ("must be 0x and 64 lower-case hex digits", "必须是 0x 加 64 位小写十六进制"),
    "not_count": ("must be a non-negative integer", "必须是非负整数"),
    "not_path": ("must be a list of at most 64 hashes", "必须是最多 64 个哈希的列表"),
    "not_address": ("must be 0x and 40 hex digits", "必须是 0x 加 40 位十六进制"),
    "not_time": (
        "must be a UTC time like 2026-11-26T04:00:00Z",
        "必须是 UTC 时间，如 2026-11-26T04:00:00Z",
    ),
    "record_absent": ("not present (erased or hash-only)", "不含记录（已删除或仅哈希）"),
    "record_bad": ("no canonical form: {reason}", "没有规范形式：{reason}"),
    "record_ok": ("{n} canonical bytes", "{n} 个规范字节"),
    "leaf_unchecked": ("not checked: no record", "未核验：没有记录"),
    "leaf_ok": ("computed {hash}, as the bundle says", "计算得 {hash}，与证明包一致"),
    "leaf_bad": (
        "computed {computed}, the bundle says {stated}",
        "计算得 {computed}，证明包为 {stated}",
    ),
    "path_index": (
        "leaf_index {index} is not below tree_size {size}",
        "leaf_index {index} 不小于 tree_size {size}",
    ),
    "path_long": (
        "{n} hashes are too many for this index and size",
        "{n} 个哈希对该索引和大小过多",
    ),
    "path_short": (
        "{n} hashes are too few for this index and size",
        "{n} 个哈希对该索引和大小过少",
    ),
    "path_ok": ("{n} hashes lead to {root}", "{n} 个哈希得到 {root}"),
    "path_bad": (
        "leads to {computed}, not to the bundle's root {stated}",
        "得到 {computed}，而非证明包的根 {stated}",
    ),
    "root_ok": ("{root} is where the path leads", "{root} 与路径结果一致"),
    "root_registry": (
        "{root} is the registry's root for the batch",
        "{root} 是登记合约中该批次的根",
    ),
    "root_bad_registry": (
        "the bundle says {stated}, the registry holds {registry} for the batch",
        "证明包为 {stated}，登记合约中该批次的根为 {registry}",
    ),
    "root_unknown": (
        "not checked: the path leads elsewhere and the registry did not say",
        "未核验：路径结果不符，且登记合约未给出该批次的根",
    ),
    "anchor_ok": (
        "batch {batch} is anchored on chain {chain}, registry {registry}",
        "批次 {batch} 已锚定于链 {chain}，登记合约 {registry}",
    ),
    "anchor_unasked": (
        "not checked: the server did not answer. {reason}",
        "未核验：服务器没有应答。{reason}",
    ),
    "server_error": ("The server answered {status}: {detail}", "服务器返回 {status}：{detail}"),
    "summary": (
        "{total} bundles: {ok} verified, {failed} failed.",
        "共 {total} 个证明包：{ok} 个通过，{failed} 个未通过。",
    ),
    "summary_one_ok": ("Verified: every step holds.", "通过：每一步均成立。"),
    "summary_one_bad": ("Failed at the {step} step.", "未通过：失败于“{step}”一步。"),
    "more_failures": ("and {n} more", "另有 {n} 个"),
    "asked": (
        "Anchors asked of chain {chain}, registry {registry}, through this server.",
        "锚定信息经本服务器查询：链 {chain}，登记合约 {registry}。",
    ),
    "failures": ("First failures", "最先出现的失败"),
    "row": ("Bundle {n}", "第 {n} 个证明包"),
    "batch": ("Batch", "批次"),
    "rows_limited": (
        "The first {shown} of {total} bundles; the summary counts them all.",
        "仅显示前 {shown} 个（共 {total} 个）；汇总包含全部。",
    ),
    "server_asking": ("Sending {n} records to the server…", "正在向服务器发送 {n} 条记录…"),
    "server_counts": (
        "The server checked {n} records: {anchored} anchored, {pending} pending, "
        "{unknown} unknown, {mismatch} mismatched, {erased} erased.",
        "服务器核验了 {n} 条记录：{anchored} 条已锚定，{pending} 条待锚定，{unknown} 条未知，"
        "{mismatch} 条不一致，{erased} 条已删除。",
    ),
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

#: The labels verify.js shows, handed to it as data-* attributes of the page.
VERIFY_SCRIPT_LABELS: Final = (
    "step_record", "step_leaf", "step_path", "step_root", "step_anchor", "step_format",
    "no_crypto", "too_big", "empty_file", "bad_json", "working", "not_object", "not_hex32",
    "not_count", "not_path", "not_address", "not_time", "record_absent", "record_bad",
    "record_ok", "leaf_unchecked", "leaf_ok", "leaf_bad", "path_index", "path_long",
    "path_short", "path_ok", "path_bad", "root_ok", "root_registry", "root_bad_registry",
    "root_unknown", "anchor_ok", "anchor_unasked", "server_error", "summary", "summary_one_ok",
    "summary_one_bad", "more_failures", "asked",
    "failures", "row", "batch", "rows_limited", "server_asking", "server_counts",
)  # fmt: skip


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
