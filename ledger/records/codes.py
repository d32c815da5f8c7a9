"""Code lists of ``credit-account-report`` v2, and the table that maps v1 values to v2.

Source: the People's Bank of China Credit Reference Center's interface
specification for personal credit data collection, second generation
(个人征信数据采集接口规范, 二代征信), record 210 "personal loan account record"
(个人借贷账户信息记录): its base segment (基础段), basic-information segment
(基本信息段), related-repayment-party segment (相关还款责任人段), monthly
performance segment (月度表现信息段) and special-transaction segment
(特殊交易说明段). The codes are the published facts of that specification;
the descriptions here are ours. Schema v1 kept its own letters for the
repayment frequency and had no report-date reason, special-transaction or
related-party codes, and statuses 1-6 only; :data:`V1_TO_V2` says what each
v1 value becomes in v2.

This module is the one place these lists live: :mod:`ledger.records.schema`
builds v2's field specs from them and :mod:`ledger.records.pboc210` maps names
onto the same fields, so no second copy of a list exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

SOURCE: Final = "PBOC Credit Reference Center, 个人征信数据采集接口规范 (二代), record 210"


def _table(pairs: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(pairs)


#: Account status (账户状态, AcctStatus) of loan accounts: D1 non-revolving loans,
#: R1 revolving loans, R4 sub-accounts under a revolving limit.
LOAN_STATUSES: Final = _table(
    {
        "1": "current (正常)",
        "2": "overdue (逾期)",
        "3": "closed, settled (关闭/结清)",
        "4": "bad debt (呆账)",
        "5": "transferred out (转出)",
        "6": "collateral insufficient (担保物不足)",
        "7": "forced liquidation (强制平仓)",
        "8": "judicial recovery (司法追偿)",
    }
)
#: Account status of R2 credit-card accounts (贷记卡账户状态): their own list.
CARD_STATUSES: Final = _table(
    {
        "1": "current (正常)",
        "2": "frozen (冻结)",
        "3": "payment stopped (止付)",
        "31": "payment stopped by the bank (银行止付)",
        "4": "closed, cancelled (销户)",
        "5": "bad debt (呆账)",
        "6": "not activated (未激活)",
        "8": "judicial recovery (司法追偿)",
    }
)
LOAN_ACCOUNT_TYPES: Final = frozenset({"D1", "R1", "R4"})
CARD_ACCOUNT_TYPES: Final = frozenset({"R2"})
#: The status that means "closed" for each list.
LOAN_CLOSED: Final = "3"
CARD_CLOSED: Final = "4"

#: Report-date reason (报告时点说明代码, RptDateCode): why the record was reported on that date.
REPORT_REASONS: Final = _table(
    {
        "10": "account opened (新开户)",
        "20": "account closed (账户关闭)",
        "30": "monthly settlement (月度结算)",
        "31": "first report of an existing account at month end (月结日首次上报存量账户)",
        "32": "account closed on the monthly settlement day (月结日账户关闭)",
        "40": "overdue amount recovered (收回逾期款项)",
    }
)
#: Report-date reasons that say the account closed: the record's status must be closed.
CLOSING_REASONS: Final = frozenset({"20", "32"})

#: Special-transaction type (特殊交易类型, ChanTranType).
SPECIAL_TRANSACTIONS: Final = _table(
    {
        "1": "extension (展期)",
        "2": "guarantor or third-party repayment (担保人/第三方代偿)",
        "3": "debt settled with assets (以资抵债)",
        "4": "early partial repayment (提前还款)",
        "5": "early settlement (提前结清)",
        "8": "judicial recovery (司法追偿)",
        "11": "debt relief (债务减免)",
        "12": "asset stripping (资产剥离)",
        "13": "asset transfer (资产转让)",
        "14": "card instalment arrangement (信用卡个性化分期)",
        "15": "write-off (核销)",
        "16": "extension initiated by the lender (银行主动延期)",
        "17": "forced liquidation (强制平仓)",
    }
)
#: Related repayment party type (还款责任人类型, ArlpType).
PARTY_ROLES: Final = _table(
    {"1": "co-borrower (共同借款人)", "2": "guarantor (保证人)", "9": "other (其他)"}
)
#: Identity category of a related party (身份类别, InfoIDType).
PARTY_KINDS: Final = _table({"1": "natural person (自然人)", "2": "organisation (组织机构)"})

#: Repayment frequency (还款频率, RepayFreqcy).
REPAYMENT_FREQUENCIES: Final = _table(
    {
        "01": "daily (日)",
        "02": "weekly (周)",
        "03": "monthly (月)",
        "04": "quarterly (季)",
        "05": "half-yearly (半年)",
        "06": "yearly (年)",
        "07": "once (一次性)",
        "08": "irregular (不定期)",
        "12": "every ten days (旬)",
        "13": "fortnightly (双周)",
        "14": "every two months (双月)",
        "99": "other (其他)",
    }
)
#: Monthly repayment status codes (当前还款状态, RpyStatus); v2 adds M to v1's.
REPAYMENT_STATUS_CODES: Final = "N1234567CGDZM*#"

#: v1 value -> v2 value, per field whose codes differ; a field not named keeps its value.
#: ``account_status`` of an R2 card is under ``account_status@R2`` (cards have their own list).
V1_TO_V2: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "repayment_frequency": _table(
            {"D": "01", "W": "02", "M": "03", "Q": "04", "H": "05", "Y": "06", "O": "07", "X": "99"}
        ),
        # v1 statuses 1-6 are the loan list's first six.
        "account_status": _table({code: code for code in "123456"}),
        # v1 reported a card like a loan: 2 (overdue) is a current card in arrears (the
        # arrears show in repayment_status), 3 closed is 4, 4 bad debt is 5, 6 not activated
        # stays 6; 5 (transferred out) has no card status and stays unmapped.
        "account_status@R2": _table({"1": "1", "2": "1", "3": "4", "4": "5", "6": "6"}),
    }
)
#: The report-date reason a v1 record gets: v1 rows are the monthly report of an account.
V1_REPORT_REASON: Final = "30"
