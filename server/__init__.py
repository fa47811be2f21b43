"""Code-aware editing on top of the model, and its doors: the LSP server and the CLI.

From the bottom up (each imports only what is below it):
- `document`: a file's text, positions in every encoding, byte-exact round trips.
- `syntax/`: tree-sitter: the languages and all the server knows of each, parsing,
  syntax issues, placeholders, snapping to statements.
- `files`: walking (.gitignore), generated files, safe writes, diffs.
- `editing/`: one edit from a parsed document to minimal text edits (the engine).
- `refactor`: batch edits over files.
- `lsp/`: the Language Server.
- `cli/`: the `diffill` command.
"""
