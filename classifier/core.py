"""The `Classifier`: one loaded bundle that scores texts and turns scores into results.

Pipeline per record: normalise (`normalize.py`) title and text -> windows
(`windows.make_windows`) -> ONNX session on length-sorted, padded batches of windows ->
sigmoid -> per-label maximum over windows -> stacked with the lexical head when the bundle has
one (`lexical.py`) -> `account.licensed` rule -> policy decision ->
evidence for each label at or above `warn`: the model's best window (or, with
``evidence="sentence"``, the best-scoring sentence inside it for labels at or above `flag`)
the label's lexicon hits, and the lexical head's top words for it (`source: "lexical"`).

When a record has a `title`, the model sees ``title + "\\n" + text``; evidence spans always
point into `text` (a window that lies wholly in the title gives no model evidence).
"""

from __future__ import annotations

import logging
import os
import re
import uuid
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .bundle import (
    DEFAULT_BUNDLE_DIR,
    LEXICAL_FILE,
    LEXICON_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    Bundle,
    BundleError,
    load_bundle,
)
from .evidence import Hit, Lexicon, LexiconError, apply_account_rule, evidence_for
from .lexical import LexicalHead, Words, segment
from .normalize import NORMALIZER_VERSION, Normalized, normalize
from .policy import Policy
from .records import RecordError, validate_record
from .windows import make_windows, special_id

log = logging.getLogger(__name__)

SCORE_DIGITS = 4
# Windows per ONNX call. 1 keeps every score independent of what else is in the batch: dynamic
# int8 quantisation scales activations per input tensor, so batch companions (and their padding)
# moved scores by up to 0.045 with 8 windows per call, enough to flip a decision near a threshold
# and to break replaying a decision for an audit. On this 2-core CPU, 1 was no slower than 8
# (300-character posts, "mini" int8 model: 270 vs 255 posts/s in one run).
DEFAULT_BATCH_SIZE = 1
EVIDENCE_MODES = ("window", "sentence")
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*")


@dataclass
class _Item:
    """One record on its way through a batch."""

    id: str
    text: str
    norm: Normalized
    model_text: str
    offset: int  # where `norm.text` starts inside `model_text`
    licensed: bool | None
    words: Words | None  # `model_text`'s jieba words, for the lexical head's score and evidence


class Classifier:
    """Scores posts with a verified bundle and decides per the policy.

    Build it with `Classifier.load`. The ONNX session is thread-safe and the rest keeps no
    per-call state, so one instance may serve many threads.
    """

    def __init__(
        self,
        bundle: Bundle,
        session: Any,
        tokenizer: Any,
        policy: Policy,
        lexicon: Lexicon,
        batch_size: int = DEFAULT_BATCH_SIZE,
        evidence: str = "window",
        lexical: LexicalHead | None = None,
    ) -> None:
        if evidence not in EVIDENCE_MODES:
            raise ValueError(f"evidence must be one of {', '.join(EVIDENCE_MODES)}, got {evidence!r}")
        self.evidence_mode = evidence
        self.bundle = bundle
        self.session = session
        self.tokenizer = tokenizer
        self.policy = policy
        self.lexicon = lexicon
        self.lexical = lexical
        self.batch_size = batch_size
        self.labels: tuple[str, ...] = bundle.labels
        self.version = bundle.version
        self.window = bundle.window
        self.stride = bundle.stride
        self.pad_id = special_id(tokenizer, "[PAD]")

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        policy: str | Policy = "standard",
        config: str | Path | Mapping[str, Any] | None = None,
        *,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        evidence: str = "window",
    ) -> Classifier:
        """Load and verify a bundle once and open its ONNX session.

        Args:
            path: a bundle folder; None means the default bundle shipped in the package.
            policy: a preset name (``strict``, ``standard``, ``lenient``) or a `Policy`.
            config: a policy config file (TOML/JSON) or mapping overriding thresholds.
            threads: onnxruntime intra-op threads; default: env ``PROMOGUARD_THREADS`` or the
                number of CPUs (at most 4).
            batch_size: windows per ONNX call.
            evidence: ``window``: a flagged label's model evidence is its best window;
                ``sentence``: the best-scoring sentence inside that window (one more, small
                ONNX call for posts with a label at or above `flag`; for people reading one
                post, e.g. `promoguard classify`).

        Returns:
            A ready `Classifier`.

        Raises:
            BundleError: the bundle is missing, corrupted, was trained with another normaliser
                version, or its model, tokenizer or lexicon cannot be opened.
            PolicyError: a bad preset or config.
            ValueError: `evidence` is not a known mode.
        """
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if evidence not in EVIDENCE_MODES:
            raise ValueError(f"evidence must be one of {', '.join(EVIDENCE_MODES)}, got {evidence!r}")
        if path is None and not DEFAULT_BUNDLE_DIR.is_dir():
            raise BundleError(
                f"no default bundle is installed ({DEFAULT_BUNDLE_DIR} is missing); pass a bundle folder "
                "(--bundle PATH) or build one with `promoguard train` and `promoguard export`"
            )
        bundle = load_bundle(path)
        if bundle.normalizer_version != NORMALIZER_VERSION:
            raise BundleError(
                f"bundle {bundle.path} was trained with normaliser {bundle.normalizer_version!r} but this "
                f"PromoGuard normalises with {NORMALIZER_VERSION!r}; re-export the bundle with this version "
                "(promoguard export) or install the PromoGuard version that made it"
            )
        if isinstance(policy, Policy):
            if config is not None:
                policy = Policy.build(policy.thresholds, "standard", config)
        else:
            policy = Policy.build(bundle.thresholds, policy, config)
        if set(policy.thresholds) != set(bundle.labels):
            raise BundleError(
                f"policy labels {sorted(policy.thresholds)} do not match bundle labels {bundle.labels}"
            )
        if threads is None:
            threads = int(os.environ.get("PROMOGUARD_THREADS", 0)) or min(4, os.cpu_count() or 1)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # Spinning idle threads burn the CPU that tokenisation, other workers and other
        # processes need; on a shared 2-core machine spinning made scans ~3x slower.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(
                str(bundle.file(MODEL_FILE)), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BundleError(
                f"bundle {bundle.path}: {MODEL_FILE} cannot be loaded by onnxruntime: {exc}"
            ) from exc
        try:
            tokenizer = Tokenizer.from_file(str(bundle.file(TOKENIZER_FILE)))
        except Exception as exc:
            raise BundleError(
                f"bundle {bundle.path}: {TOKENIZER_FILE} is not a valid tokenizer: {exc}"
            ) from exc
        try:
            lexicon = Lexicon.load(bundle.file(LEXICON_FILE))
        except (LexiconError, UnicodeDecodeError) as exc:
            raise BundleError(f"bundle {bundle.path}: {LEXICON_FILE}: {exc}") from exc
        lexicon.warm_up()  # jieba's dictionary loads here, not inside the first request
        lexical = None
        if bundle.file(LEXICAL_FILE).is_file():
            try:
                lexical = LexicalHead.load(bundle.file(LEXICAL_FILE), len(bundle.labels))
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
                raise BundleError(f"bundle {bundle.path}: {LEXICAL_FILE} cannot be read: {exc}") from exc
            lexicon.segmenter()
        try:
            clf = cls(bundle, session, tokenizer, policy, lexicon, batch_size=batch_size, evidence=evidence,
                      lexical=lexical)  # fmt: skip
        except ValueError as exc:
            raise BundleError(f"bundle {bundle.path}: {TOKENIZER_FILE}: {exc}") from exc
        log.info(
            "loaded bundle %s (version %s, policy %s, %d threads)",
            bundle.path,
            clf.version,
            policy.name,
            threads,
        )
        return clf

    # -- scoring -----------------------------------------------------------------------------

    def _run(self, windows: list[list[int]]) -> np.ndarray:
        """Sigmoid scores `[len(windows), labels]`, in the order given; batches sorted by length."""
        out = np.empty((len(windows), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        for lo in range(0, len(order), self.batch_size):
            idx = order[lo : lo + self.batch_size]
            width = max(len(windows[i]) for i in idx)
            ids = np.full((len(idx), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : len(windows[i])] = windows[i]
                mask[row, : len(windows[i])] = 1
            (logits,) = self.session.run(["logits"], {"input_ids": ids, "attention_mask": mask})
            out[idx] = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float32)))
        return out

    def score_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Per-label scores (max over windows) for raw texts, `[len(texts), labels]`.

        The plain scoring path, for evaluation and benchmarks: no policy, no evidence.
        """
        items = [normalize(t).text for t in texts]
        per = [make_windows(self.tokenizer, t, self.window, self.stride) for t in items]
        flat = [w.input_ids for ws in per for w in ws]
        probs = self._run(flat) if flat else np.zeros((0, len(self.labels)), dtype=np.float32)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        pos = 0
        for k, ws in enumerate(per):
            out[k] = self._final(items[k], probs[pos : pos + len(ws)].max(axis=0))
            pos += len(ws)
        return out

    def _final(self, model_text: str, window_max: np.ndarray, words: Words | None = None) -> np.ndarray:
        """A post's label scores: the windows' maximum, stacked with the lexical head if any."""
        if self.lexical is None:
            return window_max
        lexical = self.lexical.logits(model_text, self.lexicon.segmenter(), words)
        return self.lexical.combine(window_max, lexical)

    # -- results -----------------------------------------------------------------------------

    def _prepare(self, record: str | Mapping[str, Any]) -> _Item:
        rid, text, title, licensed = validate_record(record)
        norm = normalize(text)
        model_text, offset = norm.text, 0
        if title.strip():
            head = normalize(title).text
            model_text, offset = f"{head}\n{norm.text}", len(head) + 1
        words = segment(model_text, self.lexicon.segmenter()) if self.lexical is not None else None
        return _Item(rid or uuid.uuid4().hex, text, norm, model_text, offset, licensed, words)

    def classify(self, record: str | Mapping[str, Any]) -> dict[str, Any]:
        """Classify one post: a string or a DESIGN.md record (``text`` required).

        Returns:
            A DESIGN.md result dict: id, decision, labels, scores, evidence, model_version.

        Raises:
            RecordError: the record has no usable text or a malformed field.
        """
        return self.classify_batch([record])[0]

    def classify_batch(self, records: Iterable[str | Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Classify many posts in one pass; windows of all of them share length-sorted batches.

        Args:
            records: strings or DESIGN.md records.

        Returns:
            One result dict per record, in input order.

        Raises:
            RecordError: a record has no usable text or a malformed field (the message says
                which record, by position and id).
        """
        items = []
        for k, record in enumerate(records):
            try:
                items.append(self._prepare(record))
            except RecordError as exc:
                rid = record.get("id") if isinstance(record, Mapping) else None
                raise RecordError(f"record {k}{f' (id {rid!r})' if rid is not None else ''}: {exc}") from exc
        per = [make_windows(self.tokenizer, it.model_text, self.window, self.stride) for it in items]
        flat = [w.input_ids for ws in per for w in ws]
        probs = self._run(flat) if flat else np.zeros((0, len(self.labels)), dtype=np.float32)
        chunks = []
        pos = 0
        for ws in per:
            chunks.append(probs[pos : pos + len(ws)])
            pos += len(ws)
        spans = [
            {j: (ws[b].char_start, ws[b].char_end) for j, b in enumerate(p.argmax(axis=0))}
            for ws, p in zip(per, chunks, strict=True)
        ]
        finals = [
            self._final(it.model_text, p.max(axis=0), it.words) for it, p in zip(items, chunks, strict=True)
        ]
        if self.evidence_mode == "sentence":
            self._refine_to_sentences(items, finals, spans)
        return [self._result(it, f, sp) for it, f, sp in zip(items, finals, spans, strict=True)]

    def _refine_to_sentences(
        self, items: list[_Item], finals: list[np.ndarray], spans: list[dict[int, tuple[int, int]]]
    ) -> None:
        """Narrow each flagged label's span from its best window to its best sentence, in place.

        Sentences of the best window (split at 。！？；and line breaks) are scored alone, all in
        one batch; the top sentence replaces the window when it reaches the label's `warn`
        (scored as a post of its own, lexical head included).
        """
        flags = [t.flag for t in (self.policy.thresholds[x] for x in self.labels)]
        warns = [t.warn for t in (self.policy.thresholds[x] for x in self.labels)]
        jobs: list[tuple[int, int, list[tuple[int, int]]]] = []  # (item, label, sentence spans)
        for k, (it, final) in enumerate(zip(items, finals, strict=True)):
            for j in range(len(self.labels)):
                if final[j] < flags[j]:
                    continue
                a, b = spans[k][j]
                a = max(a, it.offset)  # evidence stays in the text, not the title
                sentences = [m.span() for m in _SENTENCE.finditer(it.model_text, a, b) if m.group().strip()]
                if len(sentences) > 1:
                    jobs.append((k, j, sentences))
        if not jobs:
            return
        windows: list[list[int]] = []
        owners: list[tuple[int, int]] = []  # (job, sentence) per window
        for n, (k, _, sentences) in enumerate(jobs):
            text = items[k].model_text
            for m, (x, y) in enumerate(sentences):
                for w in make_windows(self.tokenizer, text[x:y], self.window, self.stride):
                    windows.append(w.input_ids)
                    owners.append((n, m))
        probs = self._run(windows)
        best: dict[tuple[int, int], float] = {}
        for (n, m), row in zip(owners, probs, strict=True):
            j = jobs[n][1]
            best[(n, m)] = max(best.get((n, m), 0.0), float(row[j]))
        for n, (k, j, sentences) in enumerate(jobs):
            m = max(range(len(sentences)), key=lambda i: best.get((n, i), 0.0))
            x, y = sentences[m]
            alone = np.full(len(self.labels), best.get((n, m), 0.0), dtype=np.float32)
            if self._final(items[k].model_text[x:y], alone)[j] >= warns[j]:
                spans[k][j] = sentences[m]

    def _result(self, it: _Item, final: np.ndarray, spans: dict[int, tuple[int, int]]) -> dict[str, Any]:
        scores = {label: float(final[j]) for j, label in enumerate(self.labels)}
        # Lexicon evidence is shown only for labels at or above warn (and the account rule
        # only lowers `unlicensed` from above flag), so other labels' phrases are not searched.
        needed = [label for label, t in self.policy.thresholds.items() if scores.get(label, 0.0) >= t.warn]
        hits: list[Hit] = self.lexicon.find(it.norm, needed)
        t_unl = self.policy.thresholds.get("unlicensed")
        extra: list[dict[str, Any]] = []
        if t_unl is not None:
            scores, extra = apply_account_rule(scores, it.licensed, hits, t_unl.flag, t_unl.warn)
        scores = {k: round(v, SCORE_DIGITS) for k, v in scores.items()}
        decision = self.policy.decide(scores)
        labels = self.policy.labels(scores)
        shown = {label: scores[label] >= t.warn for label, t in self.policy.thresholds.items()}
        evidence: list[dict[str, Any]] = []
        for j, label in enumerate(self.labels):
            if shown.get(label):
                span = self._text_span(it, *spans[j])
                if span is not None:
                    a, b = span
                    evidence.append(
                        {"label": label, "start": a, "end": b, "text": it.text[a:b], "source": "model"}
                    )
        evidence += evidence_for(hits, shown)
        evidence += self._lexical_evidence(it, shown, evidence)
        evidence += extra
        return {
            "id": it.id,
            "decision": decision,
            "labels": labels,
            "scores": scores,
            "evidence": evidence,
            "model_version": self.version,
        }

    def _lexical_evidence(self, it: _Item, shown: dict[str, bool], found: list[dict]) -> list[dict]:
        """The lexical head's top words for each shown label, unless a lexicon phrase covers them."""
        wanted = [j for j, label in enumerate(self.labels) if shown.get(label)]
        if self.lexical is None or not wanted:
            return []
        hits = [(e["start"], e["end"]) for e in found if e["source"] == "lexicon"]
        words = self.lexical.top_words(
            it.model_text, self.lexicon.segmenter(), wanted, start_at=it.offset, words=it.words
        )
        out: list[dict[str, Any]] = []
        for j in wanted:
            for a, b in words[j]:
                span = self._text_span(it, a, b)
                if span is not None and not any(x <= span[0] and span[1] <= y for x, y in hits):
                    a, b = span
                    out.append({"label": self.labels[j], "start": a, "end": b, "text": it.text[a:b],
                                "source": "lexical"})  # fmt: skip
        return out

    @staticmethod
    def _text_span(it: _Item, start: int, end: int) -> tuple[int, int] | None:
        """A span of `model_text` clipped to `text` (not the title), as original offsets."""
        a = max(start - it.offset, 0)
        b = min(end - it.offset, len(it.norm.text))
        if b <= a:
            return None
        return it.norm.to_original(a, b)
