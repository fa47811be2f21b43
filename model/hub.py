"""Open diffusion checkpoints by short name: which Hugging Face repository each name is,
`pull` to download one into the Hub's own cache, and `cached_folder` to find it there
offline, so that `load("Open-dCoder-0.5B")` and `--model Open-dCoder-0.5B` work once
`diffill pull Open-dCoder-0.5B` has run.

The cache is huggingface_hub's (`HF_HUB_CACHE`, else `HF_HOME/hub`, else
~/.cache/huggingface/hub): a download there resumes where an interrupted one stopped, and
other tools share it. huggingface_hub is imported only when a name is pulled or looked up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import CheckpointError


@dataclass(frozen=True)
class Published:
    name: str  # what `diffill pull` and `--model` take
    repo: str  # the Hugging Face repository
    family: str  # as `open_checkpoints` recognises it from config.json
    size: str  # roughly what the download weighs


# One entry per family, the variant best suited to editing code. A name is matched without
# regard to case, and the repository id works as well.
MODELS = (
    Published("Open-dCoder-0.5B", "fredzzp/open-dcoder-0.5B", "Qwen2 MDM", "about 1 GB"),
    Published("DiffuCoder-7B", "apple/DiffuCoder-7B-cpGRPO", "Dream", "about 15 GB"),
    Published("Dream-Coder-7B", "Dream-org/Dream-Coder-v0-Instruct-7B", "Dream", "about 15 GB"),
    Published("LLaDA-8B", "GSAI-ML/LLaDA-8B-Instruct", "LLaDA", "about 16 GB"),
)

# What a model folder needs (`open_checkpoints` reads nothing else): the config, the
# safetensors weights and their index, and the tokenizer in any of its layouts. Left out:
# PyTorch .bin copies of the weights (never read) and the repositories' Python files
# (never run).
FILES = (
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
)


class PullError(Exception):
    """A download that did not happen, with what to do about it."""


def find(name: str) -> Published | None:
    """The published model `name` (a short name or a repository id, any case), or None."""
    wanted = name.strip().lower()
    return next((m for m in MODELS if wanted in (m.name.lower(), m.repo.lower())), None)


def known_names() -> str:
    return ", ".join(m.name for m in MODELS)


def cache_dir() -> Path | None:
    """The Hub cache as the environment names it now (None: huggingface_hub's default).

    Read at each call rather than taken from huggingface_hub, which reads it once at import.
    """
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


def _partly_there(model: Published) -> bool:
    """Whether an earlier download of `model` left anything in the cache."""
    from huggingface_hub import constants

    root = cache_dir() or Path(constants.HF_HUB_CACHE)
    return (root / f"models--{model.repo.replace('/', '--')}").is_dir()


def cached_folder(model: Published) -> Path:
    """The folder of `model` in the Hub cache, found without the network.

    Raises CheckpointError naming `diffill pull` when it is not downloaded (or only partly).
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = snapshot_download(
            model.repo, cache_dir=cache_dir(), allow_patterns=list(FILES), local_files_only=True
        )
    except LocalEntryNotFoundError:
        if _partly_there(model):
            raise CheckpointError(
                f"{model.name} ({model.repo}) is only partly downloaded: "
                f"`diffill pull {model.name}` finishes it"
            ) from None
        raise CheckpointError(
            f"{model.name} is not downloaded: run `diffill pull {model.name}` "
            f"({model.repo} from the Hugging Face Hub, {model.size})"
        ) from None
    return Path(folder)


def pull(model: Published) -> Path:
    """Download `model` into the Hub cache (or finish an interrupted download), with
    huggingface_hub's progress bars on stderr; the folder it is in.

    Raises PullError, with what to do, when the Hub cannot be reached (or HF_HUB_OFFLINE
    is set and the model is not cached), the repository is gated or gone, or the
    download stops.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    again = f"`diffill pull {model.name}` again resumes it"
    try:
        folder = snapshot_download(
            model.repo,
            cache_dir=cache_dir(),
            allow_patterns=list(FILES),
            # huggingface_hub reads HF_HUB_OFFLINE once, at import; this reads it now.
            local_files_only=_offline(),
        )
    except GatedRepoError:
        raise PullError(
            f"{model.repo} is gated: accept its terms at https://huggingface.co/{model.repo} "
            "and log in (`hf auth login`, or set HF_TOKEN)"
        ) from None
    except RepositoryNotFoundError:
        raise PullError(f"{model.repo} was not found on the Hugging Face Hub") from None
    except LocalEntryNotFoundError as err:  # offline, or the Hub unreachable, and not cached
        if _offline():
            raise PullError(
                f"HF_HUB_OFFLINE is set and {model.repo} is not in the cache: unset it, with "
                f"the network up, and run `diffill pull {model.name}` again"
            ) from None
        why = (str(err).splitlines() or ["no connection"])[0].removeprefix("Got: ")
        raise PullError(
            f"cannot reach the Hugging Face Hub to download {model.repo} ({why}): with the "
            f"network up, run `diffill pull {model.name}` again (it resumes what it got)"
        ) from None
    except HfHubHTTPError as err:
        raise PullError(f"the Hugging Face Hub refused {model.repo}: {err}; {again}") from None
    except Exception as err:  # a connection lost mid-file, a full disk: the kinds vary by version
        raise PullError(
            f"the download of {model.repo} stopped ({type(err).__name__}: {err}); {again}"
        ) from None
    return Path(folder)
