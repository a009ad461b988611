"""The red-flag lexicon: phrases that signal each sub-type, risk disclosures and negations.

Written to `corpora/lexicon/redflags.txt` as a jieba user dictionary (`phrase freq code`). `code`
is a sub-type code (F1..U7), `DISCLOSURE` (risk disclosures, which lower suspicion) or `NEGATION`
(不保本, 警惕 ...: a quoted scam phrase is not a claim). A phrase appears once, under the code
that fits it best; the lexicon drives the keyword baseline and lexical evidence, never labels.

jieba's `load_userdict` parses only lower-case `[a-z]+` tags, so readers split each line and call
`Tokenizer.add_word(phrase, int(freq), code)` (see `read_lexicon`).
"""

from __future__ import annotations

from pathlib import Path

from classifier.taxonomy import SUBTYPES

LEXICON_FILE = "redflags.txt"
FREQ = 2000  # high enough that jieba keeps each phrase as one token
DISCLOSURE = "DISCLOSURE"
NEGATION = "NEGATION"

# Space-separated phrases per code (phrases never contain spaces).
PHRASES: dict[str, str] = {
    "F1": "高息 高息理财 月息2分 月息3分 日赚 躺赚 静态收益 动态收益 拉人头 推荐奖 推荐奖励 复投 每日分红 "
    "原始股 养老项目 消费返利 扶贫互助 项目入股 回购 保本高息 日息 月月分红 静态收入 动态奖励 团队奖 "
    "级差奖 见点奖 拉新奖励 发展下线 会员升级 投一返三 资金盘 互助盘 分红权 股权众筹 养老公寓 以房养老 "
    "消费全返 原始股认购 上市回购 高额回报 稳定分红 躺着赚钱 利滚利 排单 出局 区块链养老",
    "F2": "私我 加V 进群 扫码领 带你赚 名额有限 内部名额 评论区扣1 私信领取 加微信领取 进群领取 扫码进群 "
    "免费进群 领取资料 私聊 加我微信 进裙 加薇 +V 扣1 留言领取 限时免费 仅限前 最后名额 拉你进群 "
    "添加助理 领取福利 私信获取 免费带你",
    "F3": "导师 老师带单 学员群 盈利截图 内部渠道 系统漏洞 跟我操作 充值入金 提现需保证金 带单老师 "
    "入金 出金 提现失败 账户冻结 刷流水 内幕消息 内部消息 庄家 主力资金 跟单 喊单老师 充值返现 "
    "平台漏洞 对冲套利 稳赚套利 打新内幕 私募内部 机构席位 VIP内参 收益翻番 解冻账户 提现审核",
    "F4": "点赞返佣 做任务 日结 宝妈兼职 垫付 连单 卡单 任务大厅 佣金秒到 刷单 刷单返利 刷信誉 "
    "关注返现 手机兼职 在家兼职 动动手指 日赚三百 一单一结 垫资 返本金 任务单 冲单 激活任务 "
    "兼职打字 点赞员 抖音点赞 高佣兼职 零门槛兼职",
    "F5": "无需征信 黑户可贷 秒批 100%下款 保证金 解冻费 验资费 流水费 包装费 不看征信 不查征信 "
    "黑白户 秒到账 先交费 手续费到账 工本费 会员费 放款前 刷流水费 激活费 账户冻结费 包过 "
    "无视黑白 当天放款 征信花也能贷 无抵押 免审核 秒下款",
    "F6": "征信洗白 逾期消除 不成功不收费 停息挂账 全额退保 反催收 债务重组 征信修复 征信铲单 "
    "逾期记录消除 恢复征信 债务优化 个性化分期 协商还款 减免利息 代理退保 退保维权 全额退还 "
    "修复征信 洗白征信 征信异议 内部渠道修复 债务规划 债务清零",
    "F7": "安全账户 清查账户 监管局通知 名人推荐 公检法 资金核查 洗钱嫌疑 冻结账户 银保监通知 "
    "央行通知 证监会通知 注销校园贷 关闭百万保障 配合调查 涉嫌洗钱 官方客服 退款客服 "
    "国家专项补贴 数字人民币内测 央行数字货币钱包 明星推荐 主持人推荐 专家亲测",
    "F8": "边玩边赚 链游 空投 百倍币 矿机分红 USDT搬砖 元宇宙地产 挖矿 云挖矿 矿机 算力分红 "
    "数字藏品 NFT盲盒 GameFi 养宠物赚币 走路赚币 空投币 千倍币 万倍币 上所 币价翻倍 "
    "元宇宙土地 虚拟地块 链上分红 质押挖矿 流动性挖矿 搬砖套利 区块链项目",
    "M1": "保本 保息 保底 稳赚 零风险 无风险 收益有保障 刚兑 包赚 保本保息 稳赚不赔 只赚不赔 "
    "稳赚不亏 本金无忧 本金安全 保证收益 承诺收益 收益稳定 绝不亏损 亏了包赔 保本承诺 "
    "到期保本 刚性兑付 百分百安全 安全无风险 稳稳的幸福 稳赚钱 零亏损 收益锁定",
    "M2": "年化高达 收益翻倍 业绩第一 七日年化冠军 历史从未亏损 收益最高 年化收益高达 收益率第一 "
    "连续盈利 从未亏损 稳居第一 翻倍收益 超额收益 轻松翻倍 高收益 收益惊人 一年翻番 "
    "遥遥领先 收益王 跑赢大盘 百分百盈利",
    "M3": "第一 唯一 顶级 最安全 最低利率 全网最低 国家级 最高级 最佳 最优 极致 首选 "
    "全国第一 行业第一 史上最低 史无前例 绝对安全 万无一失 独一无二 最好的理财 最稳 "
    "最高收益 最低门槛",
    "M4": "国家背书 央行批准 备案即安全 国资兜底 政府扶持项目 国家认证 政府担保 央行监管 "
    "银保监会批准 证监会认证 国家支持 政府背景 国企背景 国资控股 政策扶持 官方认证 "
    "国家队 政府兜底 财政兜底 官方指定",
    "M5": "专家力荐 教授推荐 用户见证 收益截图 明星代言 万人见证 学员反馈 客户好评 名师推荐 "
    "大V推荐 真实收益晒单 晒单 见证 财经专家推荐 亲身经历 千万粉丝推荐",
    "M6": "存款型保险 和存款一样 比存款高 分红险利率 存款利率 保险存款 像存钱一样 存单 "
    "理财就是存款 银行存款产品 存三年 零存整取 储蓄型保险 存钱送保险 保险当存款",
    "M7": "0利息 零利息 免息 日息万三 月费率 低至 日息低至 月息低至 服务费 砍头息 手续费另计 "
    "前期费用 日利率 月利率低至 免息期 超低利息 一天只要 每天只需 借一万一天",
    "M8": "超前消费 分期无压力 学生专享额度 先享后付 零首付 大学生贷款 校园贷 想买就买 "
    "轻松分期 月供低至 提前消费 先用后还 0元购 分期购物 学生分期 免押金 随借随还",
    "U1": "牛股 黑马 明日必涨 目标价 诊股 VIP群 无收益不收费 收益分成 涨停板 荐股 推荐股票 "
    "涨停 牛股推荐 金股 内参 盘中提示 抄底 逃顶 主升浪 买点 卖点 操作建议 股票群 "
    "跟庄 妖股 翻倍股 必涨 龙头股 免费诊股 短线牛股",
    "U2": "代客理财 账户托管 保底分成 盈利五五分 代操盘 代理操盘 托管账户 帮你操盘 盈利分成 "
    "资金托管 委托理财 代炒股 操盘手 账户代管 私人理财师 代管账户 亏损包赔",
    "U3": "私人放款 当天下款 口子 包装资质 助贷 贷款中介 私人借贷 放款快 秒放款 下款快 "
    "新口子 网贷口子 大额贷款 低息贷款 急用钱 小额贷款 空放 无抵押贷款 信用贷中介 过桥垫资 "
    "房产抵押贷 车贷 代办贷款 贷款包过",
    "U4": "合约 交易所返佣 打新币 U商 ICO 永续合约 合约交易 币圈 炒币 虚拟币交易 数字货币交易 "
    "场外交易 OTC 币币交易 杠杆合约 现货交易 交易所 泰达币 USDT 比特币 以太坊 狗狗币 "
    "空投领取 新币上线 认购新币 挖矿收益 钱包地址",
    "U5": "MT4 MT5 外汇平台 100倍杠杆 配资 境外期货 外汇交易 外汇保证金 黄金保证金 原油期货 "
    "恒指期货 场外配资 股票配资 十倍杠杆 杠杆交易 伦敦金 现货黄金 贵金属交易 外盘期货 "
    "国际期货 配资平台 1比10",
    "U6": "私募 公开招募 起投1万 拼单认购 私募基金 私募股权 认购份额 拼单 私募产品 股权投资 "
    "合伙企业份额 门槛低至 小额认购 私募众筹 份额转让 定向募集",
    "U7": "个人代理保险 代办 财富管理工作室 代理保险 代买保险 保险代理人 代办信用卡 代办贷款 "
    "理财工作室 代销 个人代销 代理理财 代售基金 代买理财",
    DISCLOSURE: "投资有风险 理财非存款 产品有风险 投资须谨慎 投资需谨慎 入市需谨慎 过往业绩不代表未来表现 "
    "业绩比较基准不构成收益承诺 基金有风险 以审批结果为准 以审批为准 年化利率 风险提示 "
    "风险等级 理性投资 谨慎投资 市场有风险 不构成投资建议 不构成收益承诺 请仔细阅读 "
    "产品说明书 风险揭示书 综合年化成本 单利 贷款额度以审批为准 备案编码 非保本浮动收益",
    NEGATION: "不保本 警惕 谨防 切勿 不要相信 骗局 诈骗 反诈 识破 防范 小心 并非 不承诺 "
    "不保证 不存在 提高警惕 以防上当 谨慎对待 切莫 千万别 是骗局 均为诈骗 "
    "防骗 上当受骗 报警 96110 假冒 冒充",
}


def entries() -> list[tuple[str, str]]:
    """Return `(phrase, code)` pairs, each phrase once, in a stable order.

    Raises:
        ValueError: a code is unknown or a phrase contains whitespace.
    """
    known = set(SUBTYPES) | {DISCLOSURE, NEGATION}
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for code, text in PHRASES.items():
        if code not in known:
            raise ValueError(f"lexicon code {code!r} is not a sub-type, {DISCLOSURE} or {NEGATION}")
        for phrase in text.split():
            if phrase in seen:
                continue
            seen.add(phrase)
            out.append((phrase, code))
    return out


def read_lexicon(path: Path) -> list[tuple[str, int, str]]:
    """Read `phrase freq code` lines.

    Raises:
        ValueError: a line does not have exactly three fields; names the line.
    """
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not parts[1].isdigit():
            raise ValueError(f"{path}:{lineno}: expected `phrase freq code`, got {line!r}")
        rows.append((parts[0], int(parts[1]), parts[2]))
    return rows


def write_lexicon(path: Path) -> int:
    """Write the lexicon as a jieba user dictionary; return the number of phrases."""
    rows = entries()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{phrase} {FREQ} {code}\n" for phrase, code in rows), encoding="utf-8")
    return len(rows)
