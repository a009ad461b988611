"""Labels and sub-type codes from shared/TAXONOMY.md, the one place code reads them from."""

from __future__ import annotations

from dataclasses import dataclass

LABELS: tuple[str, ...] = ("fraudulent", "misleading", "unlicensed")

LABEL_ZH = {"fraudulent": "欺诈", "misleading": "虚假/误导/不实", "unlicensed": "无资质"}


@dataclass(frozen=True)
class Subtype:
    code: str
    label: str
    name: str
    basis: str  # regulatory grounding shown to moderators


_R316 = "银发〔2019〕316号《关于进一步规范金融营销宣传行为的通知》"
_AD9 = "《广告法》第九条"
_AD25 = "《广告法》第二十五条"
_FUND = "《防范和处置非法集资条例》(2021)"
_CRYPTO = "《关于进一步防范和处置虚拟货币交易炒作风险的通知》(2021)"
_ONLINE = "《金融产品网络营销管理办法（征求意见稿）》(2021)"
_CRIME = "《刑法》第二百六十六条（诈骗罪）"

SUBTYPES: dict[str, Subtype] = {
    s.code: s
    for s in (
        Subtype("F1", "fraudulent", "非法集资、庞氏骗局、高息理财", f"{_FUND}; {_CRIME}"),
        Subtype("F2", "fraudulent", "导流至私域推销", f"{_CRIME}; {_R316}"),
        Subtype("F3", "fraudulent", "虚假投资平台、杀猪盘、荐股骗局", _CRIME),
        Subtype("F4", "fraudulent", "刷单返利、任务返佣", _CRIME),
        Subtype("F5", "fraudulent", "虚假贷款、先收费后放款", _CRIME),
        Subtype("F6", "fraudulent", "征信修复、债务优化、代理退保", f"{_CRIME}; {_R316}"),
        Subtype("F7", "fraudulent", "冒充监管、银行或名人", _CRIME),
        Subtype("F8", "fraudulent", "虚拟货币、挖矿、元宇宙骗局", f"{_CRYPTO}; {_CRIME}"),
        Subtype("M1", "misleading", "保本保收益承诺", f"{_AD25}; {_R316}"),
        Subtype("M2", "misleading", "夸大或片面宣传收益与业绩", f"{_AD25}; {_R316}"),
        Subtype("M3", "misleading", "绝对化用语", _AD9),
        Subtype("M4", "misleading", "政府或监管背书", f"{_R316}; {_AD25}"),
        Subtype("M5", "misleading", "专家、名人、用户见证", f"{_AD25}; {_R316}"),
        Subtype("M6", "misleading", "混淆产品（理财/保险冒充存款）", _R316),
        Subtype("M7", "misleading", "隐藏费用与条件", _R316),
        Subtype("M8", "misleading", "诱导过度借贷消费", _R316),
        Subtype("U1", "unlicensed", "荐股、喊单、带单", f"{_R316}; 《证券法》"),
        Subtype("U2", "unlicensed", "代客理财、代操盘", f"{_R316}; 《证券法》"),
        Subtype("U3", "unlicensed", "私人放贷、贷款中介", f"{_R316}; {_ONLINE}"),
        Subtype("U4", "unlicensed", "虚拟货币交易、交易所、场外", _CRYPTO),
        Subtype("U5", "unlicensed", "外汇保证金、境外期货、场外配资", f"{_R316}; 《期货和衍生品法》"),
        Subtype("U6", "unlicensed", "私募基金公开募集", f"{_FUND}; 《私募投资基金监督管理条例》"),
        Subtype("U7", "unlicensed", "无资质销售保险等持牌产品", f"{_R316}; {_ONLINE}"),
    )
}

# Kinds of compliant post (corpus `subtype` for items with no label).
COMPLIANT_KINDS: dict[str, str] = {
    "C-nonfin": "无金融内容（美食、旅行、育儿、科技、新闻）",
    "C-licensed": "持牌机构合规营销（含风险提示）",
    "C-antifraud": "反诈宣传与风险提示",
    "C-news": "涉诈新闻、执法报道、判决",
    "C-regulator": "监管通知与公告",
    "C-market": "市场评论与客观数据",
    "C-education": "个人理财知识科普",
    "C-negated": "否定表述与合法保本产品（国债、存款）",
    "C-shopping": "普通商品促销（返利、最低价、零风险试用）",
}
