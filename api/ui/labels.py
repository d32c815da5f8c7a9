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
