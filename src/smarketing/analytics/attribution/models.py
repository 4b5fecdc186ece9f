"""The attribution models by name, and the knobs that shape them.

Nothing here computes; it names things and checks settings so that every entry point (Python,
CLI, later the playbook) agrees on what `"w_shaped"` or `--order 2` means.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from smarketing.errors import UsageError

ModelName = Literal[
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "w_shaped",
    "full_path",
    "custom",
    "markov",
    "shapley",
]
MODEL_NAMES: tuple[ModelName, ...] = get_args(ModelName)
"""Every model, in the order `--model all` reports them."""

RULE_BASED_MODELS: tuple[ModelName, ...] = MODEL_NAMES[:9]
"""Models that split each converting journey by a rule over its touches."""

ALL_MODELS_KEYWORD = "all"
DIRECT_CHANNEL_NAME = "direct"
"""`last_non_direct` skips channels with this name, compared case-insensitively."""

DEFAULT_POSITION_WEIGHTS = (0.4, 0.2, 0.4)
DEFAULT_W_SHAPED_WEIGHTS = (0.3, 0.3, 0.3, 0.1)
DEFAULT_FULL_PATH_WEIGHTS = (0.225, 0.225, 0.225, 0.225, 0.1)
MAX_MARKOV_ORDER = 3


def resolve_models(requested: Iterable[str]) -> tuple[ModelName, ...]:
    """Turn model names (or `all`) into known names, without duplicates, in the asked order."""
    resolved: list[ModelName] = []
    for raw in requested:
        name = raw.strip().lower().replace("-", "_")
        if name == ALL_MODELS_KEYWORD:
            candidates: Sequence[ModelName] = MODEL_NAMES
        elif name in MODEL_NAMES:
            candidates = [model for model in MODEL_NAMES if model == name]
        else:
            raise UsageError(
                f"unknown attribution model {raw!r}",
                hint="choose from " + ", ".join((*MODEL_NAMES, ALL_MODELS_KEYWORD)),
            )
        resolved.extend(model for model in candidates if model not in resolved)
    if not resolved:
        raise UsageError("no attribution model given", hint="pass --model, e.g. --model linear")
    return tuple(resolved)


def parse_weights(text: str, *, option: str) -> tuple[float, ...]:
    """Parse `0.3,0.3,0.4` (or `30,30,40`) into floats; raise UsageError naming the option."""
    parts = [part.strip() for part in text.split(",")]
    try:
        weights = tuple(float(part) for part in parts)
    except ValueError:
        raise UsageError(
            f"{option} must be numbers separated by commas, got {text!r}",
            hint=f"for example {option} 0.3,0.3,0.4",
        ) from None
    return weights


def _checked_weights(
    weights: Sequence[float], *, name: str, count: int | None
) -> tuple[float, ...]:
    values = tuple(float(w) for w in weights)
    if count is not None and len(values) != count:
        raise UsageError(f"{name} needs {count} weights, got {len(values)}")
    if not values:
        raise UsageError(f"{name} needs at least one weight")
    if any(not (w >= 0.0 and w < float("inf")) for w in values):
        raise UsageError(f"{name} weights must be finite and non-negative, got {values}")
    if sum(values) <= 0.0:
        raise UsageError(f"{name} weights must not all be zero")
    return values


@dataclass(frozen=True, kw_only=True, slots=True)
class AttributionSettings:
    """How the models behave; every field has the documented default.

    Weights are relative: they are normalised to sum to 1, so `40,20,40` equals `0.4,0.2,0.4`.
    """

    half_life_days: float = 7.0
    """time_decay: a touch `half_life_days` before the conversion weighs half as much."""
    position_weights: tuple[float, ...] = DEFAULT_POSITION_WEIGHTS
    """position_based: first touch, all middle touches together, last touch."""
    w_shaped_weights: tuple[float, ...] = DEFAULT_W_SHAPED_WEIGHTS
    """w_shaped: first touch, lead creation, opportunity creation, the rest together."""
    full_path_weights: tuple[float, ...] = DEFAULT_FULL_PATH_WEIGHTS
    """full_path: first touch, lead creation, opportunity creation, closed-won, the rest."""
    custom_weights: tuple[float, ...] | None = None
    """custom: one weight per position bucket (the path cut into equal parts)."""
    markov_order: int = 1
    collapse_repeats: bool = True
    """markov: treat `A > A > B` as `A > B` before building states."""

    def __post_init__(self) -> None:
        if not (self.half_life_days > 0.0 and self.half_life_days < float("inf")):
            raise UsageError(
                f"half-life must be a positive number of days, got {self.half_life_days}"
            )
        _checked_weights(self.position_weights, name="position_based", count=3)
        _checked_weights(self.w_shaped_weights, name="w_shaped", count=4)
        _checked_weights(self.full_path_weights, name="full_path", count=5)
        if self.custom_weights is not None:
            _checked_weights(self.custom_weights, name="custom", count=None)
        if not 1 <= self.markov_order <= MAX_MARKOV_ORDER:
            raise UsageError(
                f"Markov order must be 1 to {MAX_MARKOV_ORDER}, got {self.markov_order}"
            )

    def require_custom_weights(self) -> tuple[float, ...]:
        if self.custom_weights is None:
            raise UsageError(
                "the custom model needs stage weights",
                hint="pass --weights, e.g. --weights 0.3,0.3,0.4",
            )
        return self.custom_weights
