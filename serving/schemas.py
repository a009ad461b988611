"""Request and response bodies of the API (DESIGN.md "Records"), with their limits.

Unknown fields in a request are ignored (pipelines send metadata we do not use); types are strict
(`"licensed": "yes"` is an error, not a guess); strings with unpaired surrogates (`"\ud800"`) are
refused by pydantic itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from classifier.taxonomy import LABELS

MAX_TEXT_CHARS = 50_000
MAX_TITLE_CHARS = 1_000
MAX_ID_CHARS = 256
MAX_BATCH_ITEMS = 100

Decision = Literal["pass", "warn", "review", "block"]
Label = Literal[LABELS]  # type: ignore[valid-type]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("text is empty or only whitespace; send the post's text")
    return value


PostText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description=f"The post (plain text or HTML), up to {MAX_TEXT_CHARS:,} characters, not blank.",
        json_schema_extra={"pattern": r"\S"},  # documents the not-blank rule checked below
    ),
    AfterValidator(_not_blank),
]


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class Account(_Request):
    """The publishing account; `licensed`, when known, is evidence for or against `unlicensed`."""

    id: Annotated[str, Field(max_length=MAX_ID_CHARS)] | None = None
    name: Annotated[str, Field(max_length=MAX_ID_CHARS)] | None = None
    licensed: bool | None = None


class ModerationRequest(_Request):
    """One post to moderate. Only `text` is required; `id` is generated when missing."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "post-1",
                    "title": "稳健理财新选择",
                    "text": "本产品保本保息，稳赚不赔，年化收益高达18%，添加客服微信领取内部名额。",
                    "account": {"id": "gh_1", "name": "财富小助手", "licensed": False},
                }
            ]
        }
    )

    id: Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)] | None = None
    text: PostText
    title: Annotated[str, Field(max_length=MAX_TITLE_CHARS)] | None = None
    account: Account | None = None

    def to_record(self) -> dict[str, Any]:
        """The DESIGN.md input record the classifier takes (unset fields left out)."""
        return self.model_dump(exclude_none=True)


class BatchRequest(_Request):
    """Up to 100 posts; results come back in the same order."""

    items: Annotated[list[ModerationRequest], Field(min_length=1, max_length=MAX_BATCH_ITEMS)]


class Evidence(BaseModel):
    """Why a label scored: a span of the caller's original text (character offsets).

    `source` is `model` (the best window), `lexicon` (a red-flag phrase, with `subtype` and
    `phrase`), `lexical` (a word the lexical head weighs towards the label) or `account`
    (the record's `account.licensed` is false; empty span, `detail`).
    """

    model_config = ConfigDict(extra="allow")

    label: Label
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    source: Literal["model", "lexicon", "lexical", "account"]
    subtype: str | None = Field(None, description="Sub-type code (F1-F8, M1-M8, U1-U7) for lexicon hits.")
    phrase: str | None = Field(None, description="The lexicon phrase that matched.")
    detail: str | None = Field(None, description="Why, for `account` evidence.")


class ModerationResult(BaseModel):
    """A decision for one post (DESIGN.md "Records").

    Extra fields may be added by the review hook (e.g. the review queue's verdict on a similar post).
    """

    model_config = ConfigDict(extra="allow")

    id: str
    decision: Decision
    labels: list[Label]
    scores: dict[Label, float]
    evidence: list[Evidence]
    model_version: str


class BatchResult(BaseModel):
    """Results in request order."""

    items: list[ModerationResult]


class Health(BaseModel):
    """Liveness or readiness."""

    status: Literal["ok", "loading", "unavailable"]
    model_version: str | None = None


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `invalid_request`, `text_too_long`.")
    message: str = Field(description="What was wrong and how to fix it.")
    details: list[dict[str, Any]] | None = Field(
        None, description="Per-field problems for `invalid_request`."
    )


class ErrorResponse(BaseModel):
    """Every error: `{"error": {"code", "message", "details"?}}`."""

    error: ErrorBody
