"""Article HTML reduced to what a reader sees, on markup shaped like a WeChat article page."""
# ruff: noqa: E501  (the page fixture keeps WeChat's long single-line markup)

from __future__ import annotations

from classifier.html import extract_article, html_to_text

WECHAT_PAGE = """<!DOCTYPE html>
<html><head>
<meta charset="utf-8">
<meta property="og:title" content="OG 标题">
<title>页面标题</title>
<style>.rich_media_content{font-size:17px}</style>
<script>var msg_title = "不可见的脚本标题"; window.__INITIAL__ = {"a": 1};</script>
</head>
<body id="activity-detail" class="zh_CN">
<div class="rich_media_area_primary">
  <h1 class="rich_media_title" id="activity-name">
      月入过万的理财秘诀&nbsp;&amp;  经验分享
  </h1>
  <div id="meta_content"><span class="rich_media_meta_text">财富小助手</span></div>
  <div class="rich_media_content js_underline_content" id="js_content" style="visibility: hidden;">
    <section style="margin: 0px; padding: 0px; box-sizing: border-box;">
      <section style="display: inline-block; width: 100%;">
        <p style="text-align: center;"><span style="font-size: 15px;color: rgb(255, 0, 0);"><strong>第一段</strong>：今天聊聊</span><span style="font-size: 15px;">理财。</span></p>
        <p><br></p>
        <p><span>年化收益</span><span style="letter-spacing: 1px;">高达&nbsp;15%</span>，&lt;稳赚&gt;不赔！</p>
      </section>
    </section>
    <p style="display:none">隐藏的关键词一</p>
    <p style="DISPLAY : NONE !important">隐藏的关键词二</p>
    <section style="visibility:hidden;"><span>隐藏的关键词三</span></section>
    <p hidden>隐藏的关键词四</p>
    <span aria-hidden="true">隐藏的关键词五</span>
    <noscript>请开启JavaScript</noscript>
    <template><p>模板里的字</p></template>
    <script type="text/javascript">document.write("脚本里的字");</script>
    <figure><img data-src="https://mmbiz.qpic.cn/x.jpg" alt=""><figcaption>图注：扫码进群领取</figcaption></figure>
    <ul><li>第一条</li><li>第二条</li></ul>
    <p>最后一段<br/>换行之后</p>
  </div>
</div>
<div id="js_pc_qr_code" style="display: none;">微信扫一扫关注该公众号</div>
</body></html>
"""


def test_wechat_article_body_and_title() -> None:
    article = extract_article(WECHAT_PAGE)
    assert article.title == "月入过万的理财秘诀 & 经验分享"  # whitespace (nbsp too) collapsed
    lines = article.text.split("\n")
    assert lines == [
        "第一段：今天聊聊理财。",
        "年化收益高达\u00a015%，<稳赚>不赔！",
        "图注：扫码进群领取",
        "第一条",
        "第二条",
        "最后一段",
        "换行之后",
    ]


def test_hidden_and_non_content_elements_are_dropped() -> None:
    text = html_to_text(WECHAT_PAGE)
    for hidden in (
        "隐藏的关键词",
        "请开启",
        "模板里的字",
        "脚本里的字",
        "不可见的脚本标题",
        "font-size",
        "扫一扫",
    ):
        assert hidden not in text


def test_js_content_is_taken_even_though_the_page_hides_it_until_scripts_run() -> None:
    # Real pages set visibility:hidden on #js_content and reveal it with JavaScript.
    assert "今天聊聊" in html_to_text(WECHAT_PAGE)


def test_title_falls_back_to_og_title_then_title() -> None:
    assert extract_article('<meta property="og:title" content="OG"><p>x</p>').title == "OG"
    assert extract_article("<title> 页面 </title><p>x</p>").title == "页面"
    assert extract_article("<p>x</p>").title == ""


def test_plain_pages_and_fragments() -> None:
    assert html_to_text("<div><p>一</p><p>二</p></div>") == "一\n二"
    assert html_to_text("只有文字") == "只有文字"
    assert html_to_text("") == ""
    assert html_to_text("<script>x()</script>") == ""


def test_inline_elements_do_not_split_words() -> None:
    assert html_to_text("<p><span>稳</span><b>赚</b><i>不</i><em>赔</em></p>") == "稳赚不赔"


def test_entities_are_decoded() -> None:
    assert html_to_text("<p>&lt;保本&gt; &amp; &#20445;&#x672c;</p>") == "<保本> & 保本"


def test_nested_hidden_elements() -> None:
    html = (
        '<div id="js_content"><p hidden><span hidden>a</span></p>'
        '<div style="display:none"><p style="visibility:hidden">b</p></div>ok</div>'
    )
    assert html_to_text(html) == "ok"
