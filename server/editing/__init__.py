"""Code-aware editing: one edit from a parsed document to minimal text edits. Pure Python
with no LSP types: the Language Server, the CLI and the tests share it.

- `request`: what an edit is asked (intent, range, options, the preset merge) and answers.
- `parsed`: `ParsedDocument`, a document with its language and tree, parsed once per
  version and handed down; a candidate is spliced into it and parsed incrementally.
- `targets`: which span each intent replaces (fill, fix, rewrite, complete), from the
  parse alone; the code action listing uses it too.
- `context`: the prefix and suffix windows within the model's token budget.
- `engine`: prepare (span, context, model request), the model, finish (text hygiene,
  validation and repair rounds, minimal edits); `edit` and `edit_batch` run it.
- `minimal_edits`: the small edits that turn a span's old text into its new one.
"""
