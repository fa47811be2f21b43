"""The `diffill` command (`main`; `python -m diffill.server.cli` runs it too).

- `parser`: every subcommand and option, and `main`.
- `edit_commands`: `fill` and `refactor`, thin layers over the engine and `refactor`.
- `model_commands`: `info`, `train`, `eval`, `serve`.
- `pull`: `pull`, an open checkpoint downloaded into the Hugging Face cache.
- `model_options`: the options of the commands that run a model, the model they load
  (`load` chooses the backend from the folder) and their sampler settings.
- `exit_codes`: 0 success, 1 failure (or changes pending under --check), 2 usage error.

Commands import the engine and the model when they run, so `diffill --help` is instant.
"""

from .parser import build_parser, main

__all__ = ["build_parser", "main"]
