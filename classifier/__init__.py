"""PromoGuard's inference core: normalise, window, score with ONNX Runtime, decide, explain.

    from classifier import Classifier
    clf = Classifier.load()                       # the default bundle shipped in the package
    clf.classify("稳赚不赔，加微信了解")              # one DESIGN.md result dict
    clf.classify_batch([{"id": "p1", "text": "…"}])  # results in input order

Imports stay light: onnxruntime and tokenizers load inside `Classifier.load`.
"""

from __future__ import annotations

from .bundle import Bundle, BundleError, Thresholds, load_bundle
from .core import Classifier, RecordError
from .normalize import NORMALIZER_VERSION, Normalized, normalize
from .policy import PRESETS, Policy, PolicyError
from .taxonomy import LABELS

__all__ = [
    "LABELS",
    "NORMALIZER_VERSION",
    "PRESETS",
    "Bundle",
    "BundleError",
    "Classifier",
    "Normalized",
    "Policy",
    "PolicyError",
    "RecordError",
    "Thresholds",
    "load_bundle",
    "normalize",
]
