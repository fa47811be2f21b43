"""The typed `diffill` settings section, parsed from the JSON a client sends: an invalid
value is reported and the default kept, an unknown key ignored, never a crash."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from diffill.model.precision import DTYPES
from diffill.model.sampler import PRESETS

from ..editing.request import EditOptions, sampler_options
from .conversions import number


@dataclass(frozen=True)
class Settings:
    """The `diffill` settings section. Field names are the JSON keys in snake_case."""

    model: str | None = None  # model folder; None: the shipped one
    device: str = "cpu"  # cpu, cuda[:N] or auto
    # auto (bf16 where the hardware multiplies it fast, else float32), float32, bfloat16 or
    # int8 (quantised linear layers, CPU only): `diffill.model.precision`.
    dtype: str = "auto"
    # Speed against care: quality, balanced or fast (sampler settings; see the README).
    preset: str = "balanced"
    steps: int | None = None  # fixed denoising steps; None: the confidence threshold decides
    # Commit every position above this confidence (when steps is None); None: the preset's.
    threshold: float | None = None
    temperature: float = 0.0  # 0 is greedy, hence deterministic
    max_span_tokens: int = 192
    max_context_tokens: int = 1024
    diagnostics: bool = True
    diagnostics_delay_ms: int = 300  # quiet time after the last change before re-parsing
    # Encode the context at the cursor in the background once typing pauses (for a model
    # that keeps contexts, diffill's own: the next completion there finds it ready). It is
    # the context of the completion that would follow, so it also stays off while
    # `inline_completion` is off: see `warms_context`.
    warm_context: bool = True
    # Quiet time after the last change before that warm-up.
    warm_context_delay_ms: int = 300
    # Recent contexts such a model keeps encoded (one per document being edited, roughly).
    context_cache_entries: int = 4
    inline_completion: bool = True
    preview: bool = False  # send diffill/preview even when the client did not ask for it

    @property
    def warms_context(self) -> bool:
        """Whether a change schedules a warm-up: `warm_context` is on and so is inline
        completion, the request it prepares (off: the model runs only when asked)."""
        return self.warm_context and self.inline_completion

    def edit_options(self) -> EditOptions:
        sampler = sampler_options(
            self.preset, temperature=self.temperature, threshold=self.threshold, steps=self.steps
        )
        return EditOptions(
            max_context_tokens=self.max_context_tokens,
            max_span_tokens=self.max_span_tokens,
            sampler=sampler,
        )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


SETTING_NAMES: dict[str, str] = {_camel(f.name): f.name for f in fields(Settings)}


# Each integer setting's range. JSON numbers have no bound, and a delay of 10**400 ms
# overflows every timer: past these, a value is reported and the default kept.
_INTEGER_BOUNDS: dict[str, tuple[int, int]] = {
    "steps": (1, 4096),
    "max_span_tokens": (1, 65_536),
    "max_context_tokens": (1, 1_048_576),
    "diagnostics_delay_ms": (0, 60_000),
    "warm_context_delay_ms": (0, 60_000),
    "context_cache_entries": (1, 64),
}
_MAX_TEMPERATURE = 100.0


def _check_setting(name: str, value: Any) -> Any:
    """The value if it is valid for `name`; ValueError with the reason otherwise."""
    if name in ("diagnostics", "warm_context", "inline_completion", "preview"):
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if name == "model":
        if not isinstance(value, str) or not value.strip():
            raise ValueError("must be a folder path or null")
        return value
    if name == "device":
        base, _, index = value.partition(":") if isinstance(value, str) else ("", "", "")
        if base not in ("cpu", "cuda", "auto") or (
            index and (base != "cuda" or not index.isdigit())
        ):
            raise ValueError("must be cpu, cuda, cuda:N, auto or null")
        return value
    if name == "dtype":
        if value not in DTYPES:
            raise ValueError(f"must be one of {', '.join(DTYPES)} or null")
        return value
    if name in _INTEGER_BOUNDS:
        if value is None and name == "steps":
            return None
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)  # JSON has one number type; 16.0 is 16
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("must be an integer")
        low, high = _INTEGER_BOUNDS[name]
        if value < low:
            raise ValueError(f"must be at least {low}")
        if value > high:
            raise ValueError(f"must be at most {high:,}")
        return value
    if name == "threshold":
        if value is None:
            return None
        if not number(value) or not 0 < value <= 1:
            raise ValueError("must be a number in (0, 1], or null for the preset's")
        return float(value)
    if name == "preset":
        if value not in PRESETS:
            raise ValueError(f"must be one of {', '.join(PRESETS)}")
        return value
    if name == "temperature":
        if not number(value) or not value >= 0:
            raise ValueError("must be a number >= 0")
        if not value <= _MAX_TEMPERATURE:
            raise ValueError(f"must be a number at most {_MAX_TEMPERATURE:g}")
        return float(value)
    raise AssertionError(name)


# Settings where null means "as the server was started" (`diffill serve --model/--device/
# --dtype`): editors send every declared setting, null included, and must not override the
# command line.
_NULL_IS_DEFAULT = frozenset({"model", "device", "dtype"})


def parse_settings(
    raw: object, current: Settings, defaults: Settings | None = None
) -> tuple[Settings, list[str]]:
    """Apply the keys present in a `diffill` settings object over `current`.

    Returns the new settings and one message per problem: an invalid value takes the value
    in `defaults` (the server's starting settings; never a crash, never a half-valid
    state), an unknown key is ignored.
    """
    if raw is None:
        return current, []
    if not isinstance(raw, Mapping):
        return current, [f"the diffill settings must be an object, not {type(raw).__name__}"]
    defaults = defaults or Settings()
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        name = SETTING_NAMES.get(key)
        if name is None:
            problems.append(f"diffill.{key}: unknown setting, ignored")
            continue
        if value is None and name in _NULL_IS_DEFAULT:
            changes[name] = getattr(defaults, name)
            continue
        try:
            changes[name] = _check_setting(name, value)
        except ValueError as err:
            default = getattr(defaults, name)
            problems.append(
                f"diffill.{key}: {err} (got {_shown(value)}); "
                f"using the default {json.dumps(default)}"
            )
            changes[name] = default
    return replace(current, **changes), problems


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def settings_section(raw: object, *, bare: bool) -> object:
    """The `diffill` section of what a client sent (`{"diffill": {...}}`), or None. With
    `bare`, an object without that key is the section itself: initializationOptions belong
    to this server alone and are often given that way."""
    if isinstance(raw, Mapping) and "diffill" in raw:
        return raw["diffill"]
    return raw if bare else None
