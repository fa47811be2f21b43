"""TEMPORARY, until the model contract lands (issue 12, model side): the names of
`diffill.model`'s contract that the server codes against and today's model lacks.

At the merge: delete this file and point `from diffill.server.model_contract import ...`
(grep for it) at `diffill.model`. Nothing else in server/ knows this file exists.

It gives today's three backends `facts` and `count_tokens` (their classes gain them when
this module is imported, so no wrapper stands between the server and a backend), and a
`load` that chooses the backend from the folder and takes `max_context_tokens`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

from diffill.model import HFInfiller, Infiller, InfillRequest, InfillResult, checkpoint
from diffill.model import load as _load_diffusion
from diffill.model.autoregressive import ARInfiller
from diffill.model.autoregressive import load as _load_autoregressive


@dataclass(frozen=True)
class ModelFacts:
    name: str
    family: str
    parameters: int
    device: str
    dtype: str
    folder: Path | None
    weight_bytes: int | None
    config: dict
    training: dict
    checkpoint: dict


@runtime_checkable
class Backend(Protocol):
    """The part of the contract the server uses."""

    @property
    def facts(self) -> ModelFacts: ...
    @property
    def max_span_tokens(self) -> int: ...
    def count_tokens(self, text: str) -> int: ...
    def infill(self, prefix: str, suffix: str = "", **options: Any) -> InfillResult: ...
    def infill_batch(
        self, pairs: Sequence[tuple[str, str] | InfillRequest], **options: Any
    ) -> list[InfillResult]: ...


def load(
    folder: str | Path | None = None,
    *,
    device: str = "cpu",
    dtype: str = "auto",
    max_context_tokens: int | None = None,
) -> Backend:
    model: Infiller | HFInfiller | ARInfiller
    named = folder is not None and folder != "default"
    config = checkpoint.read_config(Path(folder)) if folder is not None and named else {}
    if folder is not None and config.get("model_type") == checkpoint.AR_MODEL_TYPE:
        model = _load_autoregressive(folder, device=device, dtype=dtype)
    else:
        model = _load_diffusion(folder, device=device, dtype=dtype)
    if max_context_tokens is not None:
        model.max_context_tokens = max_context_tokens
    return cast(Backend, model)


def _facts(model: Any, family: str, training: dict, facts: dict) -> ModelFacts:
    folder = model.folder
    return ModelFacts(
        name=model.name,
        family=family,
        parameters=model.num_parameters,
        device=str(model.device),
        dtype=str(next(model.model.parameters()).dtype).removeprefix("torch."),
        folder=folder,
        weight_bytes=sum(p.stat().st_size for p in folder.glob("*")) if folder else None,
        config=model.model.cfg.to_dict(),
        training=training,
        checkpoint=facts,
    )


_FACTS: dict[type, Callable[[Any], ModelFacts]] = {
    Infiller: lambda m: _facts(m, "diffill-mdlm", m.info, {}),
    HFInfiller: lambda m: _facts(m, m.model_type, m.info, m.checkpoint),
    ARInfiller: lambda m: _facts(m, m.model_type, {}, {}),
}
for _cls, _of in _FACTS.items():
    setattr(_cls, "facts", property(_of))  # noqa: B010 (mypy would refuse the attribute)
    setattr(_cls, "count_tokens", lambda self, text: len(self.tokenizer.encode(text)))  # noqa: B010
