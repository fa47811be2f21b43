"""The diffill Language Server (pygls 2 + lsprotocol): the editing engine behind LSP.

Build one with `build_server(backend)` (or `build_server(loader=...)`, which loads the
model the settings name), run it with `serve(server)`.

- `handlers`: `build_server`, the thin LSP handlers, the code action listing.
- `server`: `DiffillServer`, the state the handlers share: capabilities, messages, the open
  documents, the settings.
- `edit_runs`: one edit on the model worker with progress, preview and cancellation, and
  its result applied with `workspace/applyEdit`.
- `model_loading`: the model the settings name, loaded on the worker and reloaded when they
  change.
- `diagnostics`: syntax-error diagnostics, debounced per document.
- `documents`: the open documents and each one's incremental parse.
- `conversions`: every conversion between domain types and LSP types; command names.
- `settings`: the typed `diffill` settings section.
- `progress`: work-done progress and `diffill/preview` for one model run.
- `worker`: the model thread and its bounded queue.
- `warming`: the context warm-up after typing pauses (models that keep their context).
- `cancellation`: which event stops which request.
- `pygls_protocol`: pygls' protocol where its defaults do not fit.
- `transport`: `serve`, over stdio or TCP, with logs to the client.
- `framing`: JSON-RPC frames and envelopes, checked before pygls sees them.
- `validation`: every method's params and the client's answers against LSP's types.
"""

from .handlers import build_server
from .progress import PREVIEW
from .server import STATUS, DiffillServer
from .settings import Settings
from .transport import serve

__all__ = ["PREVIEW", "STATUS", "DiffillServer", "Settings", "build_server", "serve"]
