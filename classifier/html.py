"""Official-account article HTML reduced to the text a reader sees.

Uses selectolax's Lexbor parser (an HTML5 parser, entities decoded by the parser). Dropped:
``script``, ``style``, ``noscript``, ``template`` and similar non-content elements; elements
hidden with the ``hidden`` attribute, ``aria-hidden="true"``, or an inline style with
``display:none`` / ``visibility:hidden``. Block elements and ``<br>`` become line breaks.

WeChat pages ship the article body as ``<div id="js_content" style="visibility: hidden;">``
and reveal it with JavaScript, so when a ``#js_content`` element exists the body is taken from
it and its own hiding style is ignored; the title comes from ``#activity-name`` (or
``og:title`` / ``<title>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

_DROP_TAGS = (
    "script", "style", "noscript", "template", "head", "iframe", "object", "embed", "svg",
    "canvas", "audio", "video", "select", "button", "input", "textarea",
)  # fmt: skip
_BLOCK_TAGS = (
    "address", "article", "aside", "blockquote", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
    "table", "tr", "ul", "caption", "thead", "tbody", "tfoot",
)  # fmt: skip
_HIDDEN_ATTRS = '[hidden], [aria-hidden="true" i]'
_HIDDEN_STYLE = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\s*(?:!important)?\s*(?:;|$)", re.I
)
_BLANK_LINES = re.compile(r"[ \t\u00a0\u3000]*\n[\s\u00a0\u3000]*")
_SPACES = re.compile(r"[ \t\u00a0]{2,}")

ARTICLE_BODY = "#js_content"
ARTICLE_TITLE = "#activity-name, .rich_media_title"


@dataclass(frozen=True)
class Article:
    """The visible text of an article page.

    Attributes:
        title: the article title, or "" when the page has none.
        text: the visible body text, one line per block.
    """

    title: str
    text: str


def _is_hidden(node: LexborNode) -> bool:
    style = node.attributes.get("style")
    return bool(style) and bool(_HIDDEN_STYLE.search(style))


def _visible_text(root: LexborNode) -> str:
    """Text of `root` with non-content and hidden descendants removed, blocks on own lines."""
    for node in root.css(", ".join(_DROP_TAGS)):
        node.decompose()
    for node in root.css(_HIDDEN_ATTRS):
        if node.mem_id != root.mem_id:
            node.decompose()
    for node in root.css("[style]"):
        if node.mem_id != root.mem_id and _is_hidden(node):
            node.decompose()
    for node in root.css("br"):
        node.insert_after("\n")
    for node in root.css(", ".join(_BLOCK_TAGS)):
        node.insert_before("\n")
        node.insert_after("\n")
    for node in root.css("td, th"):
        node.insert_after("\t")
    text = root.text(deep=True, separator="")
    text = _BLANK_LINES.sub("\n", text)
    text = _SPACES.sub(" ", text)
    return text.strip()


def extract_article(html: str) -> Article:
    """Reduce an article page (a WeChat official-account page or any HTML) to visible text.

    Args:
        html: the page markup.

    Returns:
        An `Article` with the title and the visible body text.
    """
    tree = LexborHTMLParser(html)
    title = ""
    title_node = tree.css_first(ARTICLE_TITLE)
    if title_node is not None:
        title = " ".join(title_node.text(deep=True, separator=" ").split())
    if not title:
        meta = tree.css_first('meta[property="og:title"]')
        if meta is not None:
            title = (meta.attributes.get("content") or "").strip()
    if not title:
        head_title = tree.css_first("title")
        if head_title is not None:
            title = " ".join(head_title.text().split())
    body = tree.css_first(ARTICLE_BODY) or tree.body or tree.root
    if body is None:
        return Article(title=title, text="")
    return Article(title=title, text=_visible_text(body))


def html_to_text(html: str) -> str:
    """The visible body text of an HTML page (see `extract_article`)."""
    return extract_article(html).text
