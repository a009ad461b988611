"""Decision policy: per-label thresholds turn scores into pass / warn / review / block.

Rules (DESIGN.md "warn before restrict"): `block` when any label reaches its `block`
threshold; `review` when any label reaches `flag` and none `block`; `warn` when any label
reaches `warn` and none `flag`; `pass` otherwise. A result's `labels` are those at or above
`flag`.

Thresholds come from the bundle (calibrated on dev), then a preset, then a config file:

- ``standard``: the bundle's thresholds as calibrated.
- ``strict``: `warn` and `flag` lowered by a quarter (x 0.75), so more posts carry a risk
  reminder and more go to moderators; `block` unchanged, so automatic refusal keeps the
  precision it was calibrated for.
- ``lenient``: `warn` and `flag` raised halfway towards `block`, so fewer reminders and fewer
  reviews; `block` unchanged.

A config file (TOML or JSON) may name a preset and override any threshold of any label::

    preset = "strict"            # optional
    [thresholds.misleading]      # JSON: {"thresholds": {"misleading": {"flag": 0.6}}}
    flag = 0.6
    block = 0.95
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bundle import Thresholds

DECISIONS = ("pass", "warn", "review", "block")
PRESETS = ("strict", "standard", "lenient")
_LEVELS = ("warn", "flag", "block")


class PolicyError(ValueError):
    """A preset name, a config file or a threshold value is invalid."""


def apply_preset(thresholds: Mapping[str, Thresholds], preset: str) -> dict[str, Thresholds]:
    """Thresholds after a preset (see the module docstring for what each does).

    Raises:
        PolicyError: `preset` is not one of `PRESETS`.
    """
    if preset not in PRESETS:
        raise PolicyError(f"unknown policy preset {preset!r}; choose one of {', '.join(PRESETS)}")
    out: dict[str, Thresholds] = {}
    for label, t in thresholds.items():
        if preset == "strict":
            out[label] = Thresholds(warn=t.warn * 0.75, flag=t.flag * 0.75, block=t.block)
        elif preset == "lenient":
            out[label] = Thresholds(
                warn=t.warn + (t.block - t.warn) / 2, flag=t.flag + (t.block - t.flag) / 2, block=t.block
            )
        else:
            out[label] = t
    return out


def read_config(path: str | Path) -> dict[str, Any]:
    """Read a policy config file (``.toml`` or ``.json``).

    Raises:
        PolicyError: the file is missing, unreadable or not valid TOML/JSON.
    """
    p = Path(path)
    if not p.is_file():
        raise PolicyError(f"policy config {p} does not exist")
    try:
        raw = p.read_bytes()
        if p.suffix.lower() == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                try:
                    import tomli as tomllib  # type: ignore[no-redef]
                except ModuleNotFoundError:
                    raise PolicyError(
                        f"policy config {p}: reading TOML needs Python 3.11+ or `pip install tomli`; "
                        "or write the config as JSON"
                    ) from None
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PolicyError(f"policy config {p} could not be read: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"policy config {p} must hold a table/object, got {type(data).__name__}")
    return data


def _override(base: Mapping[str, Thresholds], overrides: Any, where: str) -> dict[str, Thresholds]:
    if not isinstance(overrides, Mapping):
        raise PolicyError(
            f"{where}: 'thresholds' must map labels to {{warn, flag, block}}, got {overrides!r}"
        )
    out = dict(base)
    for label, values in overrides.items():
        if label not in base:
            raise PolicyError(f"{where}: unknown label {label!r} in thresholds; labels are {', '.join(base)}")
        if not isinstance(values, Mapping):
            raise PolicyError(
                f"{where}: thresholds.{label} must be a table of warn/flag/block, got {values!r}"
            )
        merged = base[label].as_dict()
        for key, value in values.items():
            if key not in _LEVELS:
                raise PolicyError(
                    f"{where}: thresholds.{label}.{key} is not a level; use warn, flag or block"
                )
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PolicyError(f"{where}: thresholds.{label}.{key} must be a number, got {value!r}")
            merged[key] = float(value)
        try:
            out[label] = Thresholds(**merged)
        except ValueError as exc:
            raise PolicyError(f"{where}: thresholds.{label}: {exc}") from exc
    return out


@dataclass(frozen=True)
class Policy:
    """Per-label thresholds and the decision rule.

    Attributes:
        thresholds: label -> `Thresholds` (warn < flag < block).
        name: where the thresholds came from (preset, config file), for logs and results.
    """

    thresholds: dict[str, Thresholds] = field()
    name: str = "standard"

    @classmethod
    def build(
        cls,
        bundle_thresholds: Mapping[str, Thresholds],
        preset: str = "standard",
        config: str | Path | Mapping[str, Any] | None = None,
    ) -> Policy:
        """Bundle thresholds, then `preset`, then a config file or mapping.

        Args:
            bundle_thresholds: the calibrated thresholds stored in the bundle.
            preset: ``strict``, ``standard`` or ``lenient``; a config's ``preset`` key wins.
            config: a path to a TOML/JSON file, or the parsed mapping, or None.

        Raises:
            PolicyError: bad preset, unreadable config, unknown label or level, a value that is
                not a number or breaks 0 < warn < flag < block <= 1.
        """
        where = "policy config"
        data: Mapping[str, Any] = {}
        if isinstance(config, (str, Path)):
            where = f"policy config {config}"
            data = read_config(config)
        elif config is not None:
            data = config
        unknown = set(data) - {"preset", "thresholds"}
        if unknown:
            raise PolicyError(f"{where}: unknown keys {sorted(unknown)}; allowed: preset, thresholds")
        preset = data.get("preset", preset)
        if not isinstance(preset, str):
            raise PolicyError(f"{where}: preset must be a string, got {preset!r}")
        thresholds = apply_preset(bundle_thresholds, preset)
        name = preset
        if "thresholds" in data:
            thresholds = _override(thresholds, data["thresholds"], where)
            name = f"{preset}+config"
        return cls(thresholds=thresholds, name=name)

    def labels(self, scores: Mapping[str, float]) -> list[str]:
        """Labels at or above their `flag` threshold, in the policy's label order."""
        return [label for label, t in self.thresholds.items() if scores.get(label, 0.0) >= t.flag]

    def decide(self, scores: Mapping[str, float]) -> str:
        """`block`, `review`, `warn` or `pass` for per-label scores (see module docstring)."""
        levels = [(scores.get(label, 0.0), t) for label, t in self.thresholds.items()]
        if any(s >= t.block for s, t in levels):
            return "block"
        if any(s >= t.flag for s, t in levels):
            return "review"
        if any(s >= t.warn for s, t in levels):
            return "warn"
        return "pass"

    def describe(self) -> dict[str, dict[str, float]]:
        """Thresholds as plain dicts (for logs, `--json` output and the API)."""
        return {label: t.as_dict() for label, t in self.thresholds.items()}
