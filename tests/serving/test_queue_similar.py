"""Similar-text memory: a near-duplicate of a decided post carries its verdict; unrelated posts do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving import similarity as sim
from tests.serving.queue_helpers import open_queue, result

BASE = (
    "【内部渠道】本平台由国资背景机构运营，投资五千元起，日收益3%，保本保息稳赚不赔，三个月回本。"
    "邀请好友再返佣金10%，名额有限，添加客服微信 wx8899 立即开户。"
)
EDITS = {
    "numbers": BASE.replace("3%", "5%").replace("10%", "15%").replace("wx8899", "wx6677"),
    "contact code": BASE.replace("添加客服微信 wx8899", "加V：abc123"),
    "inserted symbols": BASE.replace("保本保息稳赚不赔", "保*本*保*息 稳🔥赚🔥不🔥赔"),
    "traditional": BASE.replace("本平台由国资背景机构运营", "本平臺由國資背景機構運營"),
    "full-width": BASE.replace("3%", "３％").replace("wx8899", "ｗｘ８８９９"),
    "sentence added": BASE + "今日已有1268人加入，错过再等一年！",
    "reordered": "名额有限，添加客服微信 wx8899 立即开户。" + BASE[: BASE.index("名额")],
    "one word changed": BASE.replace("国资背景机构", "央企背景公司"),
}
UNRELATED = {
    "other scam": "兼职刷单，动动手指日赚300元，先垫付后返款，佣金当天结清，宝妈学生都能做，私信领取任务。",
    "licensed ad": "某某银行理财产品，业绩比较基准3.2%-3.8%，过往业绩不代表未来表现，"
    "理财非存款，产品有风险，投资须谨慎。",
    "anti-fraud news": "警方提醒：近期出现冒充国资平台的投资骗局，承诺保本高收益，"
    "请市民提高警惕，切勿向陌生账户转账。",
    "same topic, own words": "我们平台背景雄厚，收益稳定，本金安全有保障，"
    "欢迎各位朋友咨询了解，添加客服微信开户。",
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_small_edits_stay_similar(name: str) -> None:
    assert sim.jaccard(sim.shingles(BASE), sim.shingles(EDITS[name])) >= sim.DEFAULT_THRESHOLD


@pytest.mark.parametrize("name", sorted(UNRELATED))
def test_unrelated_posts_are_not_similar(name: str) -> None:
    assert sim.jaccard(sim.shingles(BASE), sim.shingles(UNRELATED[name])) < 0.3


def test_fingerprints_are_deterministic_and_short_texts_are_not_indexed() -> None:
    assert sim.fingerprint(BASE) == sim.fingerprint(BASE)
    assert len(sim.fingerprint(BASE).keys) == sim.BANDS
    assert not sim.fingerprint("加微信").indexable


def test_a_near_duplicate_carries_the_verdict(tmp_path: Path) -> None:
    queue = open_queue(tmp_path / "q.db")
    first = queue.submit({"id": "orig", "text": BASE}, result("orig"))
    assert "similar" not in first
    # Before any verdict a re-post is just another item.
    assert "similar" not in queue.submit({"id": "early", "text": EDITS["numbers"]}, result("early"))
    queue.claim(first["review_id"], "key:m")
    queue.decide(first["review_id"], "key:m", "reject", ["fraudulent", "misleading"], "F1")
    for name, text in EDITS.items():
        extra = queue.submit({"id": f"edit-{name}", "text": text}, result(f"edit-{name}"))
        similar = extra.get("similar")
        assert similar is not None, name
        assert (similar["item_id"], similar["verdict"]) == (first["review_id"], "reject")
        assert similar["labels"] == ["fraudulent", "misleading"] and similar["subtype"] == "F1"
        assert similar["similarity"] >= sim.DEFAULT_THRESHOLD
        assert similar["link"] == f"/v1/review/items/{first['review_id']}"
    for name, text in UNRELATED.items():
        assert "similar" not in queue.submit(
            {"id": f"other-{name}", "text": text}, result(f"other-{name}")
        ), name
    # The same post again reports its own verdict.
    again = queue.submit({"id": "orig", "text": BASE}, result("orig"))
    assert again["review_status"] == "decided" and again["similar"]["similarity"] == 1.0
    # The item page shows the link too.
    assert queue.get(queue.find_post("early")[0])["similar"]["item_id"] == first["review_id"]
    queue.close()
