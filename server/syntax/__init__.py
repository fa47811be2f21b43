"""Tree-sitter for the editing engine. Byte offsets into UTF-8 source throughout.

- `languages`: the registry; one `LanguageSpec` per grammar holds all the server knows
  about that language (statement, body, comment, import and scope node types, which
  bodies need a statement, how to find placeholders).
- `trees`: parsing (incremental with `edit_tree`), syntax issues, placeholders and query
  targets of a tree.
- `snapping`: a selection grown to whole statements; the span that repairs an issue.
- `placeholders`: the `Placeholder` type and Python's placeholder finder.
- `nodes`: walking a tree and line arithmetic, shared by the modules above.

The names below are the package's interface; its modules import each other directly.
"""

from .languages import (
    LanguageSpec,
    UnsupportedLanguage,
    language_for_name,
    language_for_path,
    language_names,
)
from .placeholders import Placeholder
from .snapping import fix_span, snap_to_statements
from .trees import (
    ParseTimeout,
    SyntaxIssue,
    count_errors,
    edit_tree,
    parse,
    placeholder_at,
    placeholders,
    query_targets,
    syntax_issues,
)

__all__ = [
    "LanguageSpec",
    "ParseTimeout",
    "Placeholder",
    "SyntaxIssue",
    "UnsupportedLanguage",
    "count_errors",
    "edit_tree",
    "fix_span",
    "language_for_name",
    "language_for_path",
    "language_names",
    "parse",
    "placeholder_at",
    "placeholders",
    "query_targets",
    "snap_to_statements",
    "syntax_issues",
]
