"""Code-aware editing on top of the model, and its doors: the LSP server and the CLI."""
