"""Synthetic complaint and consultation texts in the customers' own words. No Django.

Each text is built from the customer's situation (which says the cause), an optional
feeling, and a demand (which says the need), with slots filled from small pools and
colloquial variations, so two texts rarely coincide. The generator records the true cause
and need of every text beside the delivery (``truth_complaints`` file), never in it.

Cause codes are the second level of the complaint taxonomy
(``keycare/complaints/taxonomy.yaml``; tests keep the two in step). Need codes likewise.
"""

from __future__ import annotations

import random

import numpy as np

from keycare.synth import reference as ref

# Complaint topic (the event's category) -> the causes a text of that topic can have.
TOPIC_CAUSES = {
    "网络质量": ["weak_coverage", "slow_data", "broadband_fault"],
    "资费争议": ["tariff_dispute", "overage_charge", "roaming_charge"],
    "业务办理": ["broadband_install", "portability_obstacle"],
    "服务态度": ["staff_attitude"],
    "不明扣费": ["unexplained_charge", "unordered_vas"],
    "营销骚扰": ["marketing_harassment"],
}
# Consultation (bill query / portability inquiry) texts: which causes they can have.
QUERY_CAUSES = {
    "bill_query": ["tariff_dispute", "overage_charge", "unexplained_charge", "roaming_charge"],
    "portability_inquiry": ["portability_obstacle"],
}

# cause -> (need, weight): what customers with that cause ask for.
CAUSE_NEEDS = {
    "tariff_dispute": {"plan_adjust": 4, "explanation": 3, "refund": 2, "port_out": 1},
    "unexplained_charge": {"refund": 6, "explanation": 3, "port_out": 1},
    "overage_charge": {"refund": 4, "plan_adjust": 4, "explanation": 2},
    "weak_coverage": {"repair": 7, "port_out": 2, "refund": 1},
    "slow_data": {"repair": 6, "plan_adjust": 2, "port_out": 2},
    "broadband_fault": {"repair": 7, "refund": 2, "port_out": 1},
    "broadband_install": {"repair": 6, "apology": 2, "unsubscribe": 2},
    "unordered_vas": {"unsubscribe": 5, "refund": 5},
    "staff_attitude": {"apology": 8, "port_out": 2},
    "marketing_harassment": {"stop_marketing": 7, "apology": 2, "port_out": 1},
    "portability_obstacle": {"port_out": 8, "explanation": 2},
    "roaming_charge": {"refund": 5, "explanation": 3, "plan_adjust": 2},
}

VAS = [
    "咪咕视频",
    "和彩云",
    "视频彩铃",
    "来电提醒",
    "12580生活播报",
    "游戏包月",
    "手机报",
    "和阅读",
]
PLACES = ["家里", "单位", "小区", "办公室", "地下车库", "电梯里", "公司楼上", "卧室", "厂区"]
AREAS = ["和平区", "河西区", "南开区", "滨海新区", "西青区", "武清区", "东丽区", "津南区"]
STAFF = ["营业厅的工作人员", "10086的客服", "那个接线员", "装维师傅", "客户经理", "柜台的小姑娘"]
COMPETITORS = ["联通", "电信", "广电"]
WHEN = ["上个月", "这个月", "最近一周", "这两天", "从{m}月份开始", "前几天", "最近半个月", "昨天"]

SITUATIONS = {
    "tariff_dispute": [
        "办套餐的时候说月租{a}元全包，结果每月都扣了{b}多",
        "{w}套餐费用比当初说好的贵了{d}块",
        "营业员说的优惠到期后没有任何提醒就恢复原价了",
        "我的{fee}元套餐被自动升级成了更贵的档位，我根本没同意",
        "承诺的话费减免一直没有兑现，账单上还是原价",
        "合约里写的是月租{a}元，实际扣的和合约对不上",
        "老用户的资费反而比新用户贵，办的套餐一点都不划算",
        "说好的宽带免费送，结果{w}开始单独收宽带费了",
    ],
    "unexplained_charge": [
        "{w}话费莫名其妙多扣了{d}元，我什么都没办",
        "账单里有一笔{d}元的费用看不懂，不知道扣的是什么",
        "手机放着没用话费也一直在少",
        "余额{w}突然少了{d}块钱，查详单也看不出来是什么",
        "每个月都有几块钱的不明扣费，已经持续好几个月了",
        "停机保号期间还被扣了{d}元",
        "充的{a}元话费没几天就没了，扣费不明不白",
    ],
    "overage_charge": [
        "{w}流量超出扣了{d}元，可我根本没怎么用流量",
        "套餐外流量费一下子出来{d}多块",
        "流量用超了也没有短信提醒，直接扣了我{d}元",
        "语音超出套餐按分钟收费，这个月多出来{d}元",
        "明明开了流量包，还是按套餐外标准收了{d}元",
        "超出的流量收费太贵了，一个月白白多花了{d}块",
    ],
    "weak_coverage": [
        "在{p}手机一点信号都没有，电话都打不出去",
        "{w}{area}这边信号特别差，经常只有一格",
        "在{p}接电话总是断断续续，说不了两句就掉线",
        "一进{p}就显示无服务，别人的{c}手机却好好的",
        "{area}新建的小区到现在都没有信号覆盖",
        "打电话老是听不清对方说话，信号时有时无",
    ],
    "slow_data": [
        "{w}手机上网特别慢，网页半天打不开",
        "5G套餐的网速还不如以前的4G，视频一直转圈",
        "在{p}刷视频卡得不行，网速只有几十K",
        "晚上高峰期上网基本用不了，微信都发不出去",
        "明明显示5G信号满格，网速却慢得要命",
        "{w}流量网速被限速了一样，打开个网页要等很久",
    ],
    "broadband_fault": [
        "家里宽带{w}老是断网，一天断好几次",
        "宽带从{m}号开始就上不了网了，光猫一直亮红灯",
        "家里的宽带网速很慢，办的{bw}兆实际只有几兆",
        "宽带一到晚上就掉线，孩子上网课都上不了",
        "家里的机顶盒看电视一直卡，宽带也时断时续",
        "报修了{t}次宽带故障，师傅来了看看就走，问题还在",
    ],
    "broadband_install": [
        "宽带申请装机{d}天了还没有人来安装",
        "约好的装维师傅上门时间一再推迟",
        "搬家移机等了一个多星期都没给办好",
        "说好{w}上门安装宽带，结果一直没人联系我",
        "宽带预约报修以后两天都没人上门",
    ],
    "unordered_vas": [
        "我从来没有订过{vas}，却每月扣我{a}元",
        "账单里多了个{vas}的包月费，我根本不知道怎么开通的",
        "{w}莫名其妙被开通了{vas}，一直在扣费",
        "没经过我同意就给我开了{vas}，连个确认短信都没有",
        "老人的手机被开了好几个增值业务，{vas}什么的都不会用",
        "发了个短信回复就被订购了{vas}，这属于诱导消费",
    ],
    "staff_attitude": [
        "{staff}态度非常恶劣，说话很不耐烦",
        "去营业厅办业务，{staff}爱答不理的",
        "打10086排队半天，接通后{staff}直接把电话挂了",
        "{staff}推来推去，谁都不愿意负责",
        "{staff}说话很冲，还嫌我问题多",
        "问了{t}遍都没人给我说清楚，{staff}一直敷衍",
    ],
    "marketing_harassment": [
        "每天都接到推销电话让我升级套餐，烦死了",
        "{w}收到十几条营销短信，都是推销业务的",
        "已经说过不需要了，还是一天打好几个电话推销宽带",
        "晚上十点多还打电话推销流量包",
        "客户经理隔三岔五打电话让我换{fee}元的套餐",
        "上班时间被推销电话骚扰，说了不要还一直打",
    ],
    "portability_obstacle": [
        "想携号转网，查询说我不符合条件，又说不清楚原因",
        "办理携转时说我有合约没到期，可我从没签过合约",
        "发了短信查询携号转网资格，回复的授权码一直收不到",
        "去营业厅办携转，工作人员一直劝说不给办",
        "携号转网被设置了各种障碍，一会儿说欠费一会儿说有绑定业务",
        "携号转网需要什么条件，我的号码能不能转",
    ],
    "roaming_charge": [
        "去{country}出差回来扣了{d}元国际漫游费",
        "在{country}只开了数据漫游一天，账单上却收了{d}多",
        "出国前开了漫游包，回来还是按标准资费扣了{d}元",
        "人在{country}手机没用却被扣了漫游费",
        "港澳漫游的流量费{w}扣了{d}元，太离谱了",
        "开了国际漫游日套餐，结果每天都扣，回国了还在扣",
    ],
}

OPENERS = [
    "",
    "",
    "你好，",
    "我要投诉，",
    "你好我反映个问题，",
    "我是你们{y}年的老用户了，",
    "我是全球通客户，",
    "麻烦帮我查一下，",
    "我再说一遍，",
    "客户来电反映：",
    "用户称",
]
QUERY_OPENERS = ["请问", "你好，想咨询一下，", "咨询：", "我想问一下，", "客户来电咨询："]
FEELINGS = [
    "",
    "",
    "",
    "，太气人了",
    "，非常不满意",
    "，已经打了{t}次电话都没解决",
    "，这都第{t}次反映了",
    "，严重影响我的工作",
    "，耽误了我很多事",
    "，你们这样做太不负责任了",
    "，真是让人失望",
]

DEMANDS = {
    "refund": [
        "要求把多扣的钱退回来",
        "请尽快把{d}元退给我",
        "必须给我退费",
        "希望给予相应的补偿",
        "要求赔偿损失",
        "多收的费用全部退还",
    ],
    "explanation": [
        "请给我一个合理的解释",
        "麻烦查一下这钱到底是怎么扣的",
        "想知道具体是怎么计费的",
        "请把收费明细说清楚",
        "希望有人给我说明一下",
        "到底是什么原因请解释一下",
    ],
    "plan_adjust": [
        "能不能帮我换个更划算的套餐",
        "希望给我一些优惠",
        "要求把月租降下来",
        "有没有流量多一点的套餐推荐",
        "想改成便宜点的套餐",
        "老用户能不能给个优惠",
    ],
    "repair": [
        "请尽快派人来处理",
        "希望尽快解决",
        "请安排师傅上门看看",
        "什么时候能恢复正常",
        "赶紧给修好",
        "请尽快给个处理方案",
    ],
    "unsubscribe": [
        "马上给我退订",
        "把这个业务取消掉",
        "帮我把它退了",
        "以后不要再给我开任何业务",
        "立即关闭，不要再扣了",
    ],
    "apology": [
        "要求相关人员给我道歉",
        "希望你们好好整改",
        "请给我一个说法",
        "希望加强对员工的管理",
        "要求处理这个人",
    ],
    "stop_marketing": [
        "以后别再给我打推销电话了",
        "把我的号码加入免打扰",
        "不要再发营销短信了",
        "请停止骚扰",
        "再打我就去工信部投诉",
    ],
    "port_out": [
        "再不解决我就携号转网",
        "实在不行我就转到{c}去",
        "要求马上给我办理携转",
        "不行我就销号不用了",
        "这样下去我只能换运营商了",
    ],
}

RESULTS = {
    "refund": [("已核实并退费{d}元，客户认可", True), ("已提交退费申请，待审批", False)],
    "explanation": [("已解释计费规则，客户认可", True), ("已解释，客户不认可", False)],
    "plan_adjust": [("已办理套餐变更，客户满意", True), ("已推荐套餐，客户考虑中", False)],
    "repair": [("已派单处理，故障已修复", True), ("已派单至网络维护部门，处理中", False)],
    "unsubscribe": [("已退订并退还当月费用", True), ("已退订，退费待审核", False)],
    "apology": [("已向客户致歉并对相关人员进行批评教育", True), ("已致歉，客户仍不满意", False)],
    "stop_marketing": [("已加入营销免打扰名单", True), ("已记录，客户要求升级处理", False)],
    "port_out": [
        ("已解释携转规则并安抚，客户暂不转网", True),
        ("客户坚持办理携转，已转营业厅", False),
    ],
}
RESOLVED_SHARE = 0.7
IMPLICIT_SHARE = 0.25


class TextMaker:
    """Fills the fragments; one per chunk, seeded from the chunk's RNG (deterministic)."""

    def __init__(self, rng: np.random.Generator):
        self.r = random.Random(int(rng.integers(0, 2**62)))

    def slots(self) -> dict:
        r = self.r
        return {
            "a": r.choice([38, 58, 88, 128, 158, 188, 238, 288]),
            "b": r.choice([100, 150, 200, 260, 300]),
            "d": r.choice([5, 8, 10, 15, 20, 30, 46, 60, 85, 120, 200, 350, 680]),
            "fee": r.choice([58, 88, 128, 158, 198, 238]),
            "m": r.randint(1, 12),
            "t": r.randint(2, 6),
            "y": r.randint(3, 20),
            "bw": r.choice([100, 200, 300, 500, 1000]),
            "p": r.choice(PLACES),
            "area": r.choice(AREAS),
            "c": r.choice(COMPETITORS),
            "vas": r.choice(VAS),
            "staff": r.choice(STAFF),
            "country": r.choice(ref.ROAMING_COUNTRIES),
        }

    def fill(self, template: str, slots: dict) -> str:
        return template.format(**slots)

    def one(self, cause: str, query: bool = False) -> tuple[str, str, str, str, bool]:
        """(text, cause, need, handling result, resolved) for one text of ``cause``."""
        r = self.r
        needs = CAUSE_NEEDS[cause]
        need = r.choices(list(needs), weights=list(needs.values()))[0]
        if query and r.random() < 0.6:  # consultations mostly ask what a charge is
            need = "explanation"
        slots = self.slots()
        slots["w"] = r.choice(WHEN).format(**slots)
        opener = r.choice(QUERY_OPENERS if query else OPENERS)
        situation = r.choice(SITUATIONS[cause])
        feeling = "" if query else r.choice(FEELINGS)
        demand = r.choice(DEMANDS[need])
        if not query and r.random() < IMPLICIT_SHARE:
            # Many customers only state the problem: the need is the cause's usual one.
            need, demand = max(needs, key=needs.get), ""
        sep = r.choice(["，", "，", "。", "！"] if not query else ["，", "？"])
        text = self.fill(
            opener + situation + feeling + sep + demand + r.choice(["。", "！", ""]), slots
        )
        outcome, resolved = RESULTS[need][0 if r.random() < RESOLVED_SHARE else 1]
        return text, cause, need, self.fill(outcome, slots), resolved

    def many(self, causes: list[str], query: bool = False) -> dict:
        rows = [self.one(c, query) for c in causes]
        cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
        return {
            "text": list(cols[0]),
            "cause": list(cols[1]),
            "need": list(cols[2]),
            "handling_result": list(cols[3]),
            "resolved": np.array(cols[4], dtype=bool),
        }

    def for_topics(self, topics: list[str]) -> dict:
        """Complaint texts for complaints of the given topics (event categories)."""
        return self.many([self.r.choice(TOPIC_CAUSES[t]) for t in topics])

    def for_queries(self, event_type: str, k: int) -> dict:
        return self.many([self.r.choice(QUERY_CAUSES[event_type]) for _ in range(k)], query=True)


def sample(n: int, seed: int, query_share: float = 0.15) -> dict:
    """``n`` labelled texts (text, cause, need...) over all causes, for training and held-out
    evaluation: causes uniform, a share of them written as consultations."""
    maker = TextMaker(np.random.default_rng([seed, 21]))
    causes = list(CAUSE_NEEDS)
    rows = [
        maker.one(maker.r.choice(causes), query=maker.r.random() < query_share) for _ in range(n)
    ]
    cols = list(zip(*rows, strict=True))
    return {"text": list(cols[0]), "cause": list(cols[1]), "need": list(cols[2])}


def all_causes() -> list[str]:
    return list(CAUSE_NEEDS)


def all_needs() -> list[str]:
    return sorted({n for needs in CAUSE_NEEDS.values() for n in needs})
