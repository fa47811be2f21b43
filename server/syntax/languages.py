"""The supported languages: one `LanguageSpec` per grammar holds everything the server
knows about that language's node types, so no code elsewhere asks which language it is.

Grammars come from the individual `tree_sitter_<lang>` wheels, never fetched at run time.
The node-type tables below are most of this file; they are data, kept with the one class
that reads them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import tree_sitter_go
import tree_sitter_java
import tree_sitter_javascript
import tree_sitter_python
import tree_sitter_rust
import tree_sitter_typescript
from tree_sitter import Language, Tree

from .placeholders import Placeholder, python_placeholders

# (tree, within) -> placeholders; within: only those overlapping this byte range.
PlaceholderFinder = Callable[[Tree, tuple[int, int] | None], list[Placeholder]]


class UnsupportedLanguage(ValueError):
    """A language name, alias or file extension with no grammar in the registry."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f'unsupported language: "{name}"; supported: {", ".join(language_names())}'
        )

    def __reduce__(self) -> tuple[type[UnsupportedLanguage], tuple[str]]:
        # Rebuild from the name, not the message, so the error survives pickling intact.
        return (type(self), (self.name,))


@dataclass(frozen=True)
class LanguageSpec:
    """One grammar and what the server needs to know about its node types.

    statement_types: nodes that are whole statements or declarations (snapping, fix spans).
    body_types: nodes whose named children are a list of statements (function, loop and
        branch bodies). A named child of one counts as a statement even when its type is
        not listed, which catches Rust's tail expression and any kind missed here.
    comment_types: comment nodes.
    import_types: top-level nodes that bring names into scope (pinned into a context
        window that would lose them).
    scope_types: nodes whose header (everything before their body) names the scope a span
        lives in (pinned likewise).
    bodies_need_a_statement: body nodes the grammar accepts holding only comments, or
        nothing, which the language itself rejects (Python's "expected an indented block");
        such a body is reported as a syntax issue.
    find_placeholders: the code standing in for code still to write, in a tree (optionally
        only what overlaps a byte range); None where the language has no placeholders yet.
    grammar: returns the grammar's `TSLanguage` pointer (from its wheel).
    """

    name: str
    extensions: tuple[str, ...]
    statement_types: frozenset[str]
    body_types: frozenset[str]
    comment_types: frozenset[str]
    import_types: frozenset[str]
    scope_types: frozenset[str]
    grammar: Callable[[], object] = field(repr=False, compare=False)
    bodies_need_a_statement: frozenset[str] = frozenset()
    find_placeholders: PlaceholderFinder | None = field(default=None, repr=False, compare=False)

    @property
    def language(self) -> Language:
        return _ts_language(self.name)


_PYTHON_STATEMENTS = frozenset(
    {
        "expression_statement",
        "return_statement",
        "pass_statement",
        "raise_statement",
        "assert_statement",
        "delete_statement",
        "global_statement",
        "nonlocal_statement",
        "import_statement",
        "import_from_statement",
        "future_import_statement",
        "print_statement",
        "exec_statement",
        "type_alias_statement",
        "break_statement",
        "continue_statement",
        "if_statement",
        "for_statement",
        "while_statement",
        "try_statement",
        "with_statement",
        "match_statement",
        "function_definition",
        "class_definition",
        "decorated_definition",
    }
)

# `empty_statement` is left out in every language: JavaScript's `for (;;)` header is made
# of them, and a lone `;` is never what a user means by "this statement".
_JAVASCRIPT_STATEMENTS = frozenset(
    {
        "expression_statement",
        "return_statement",
        "throw_statement",
        "break_statement",
        "continue_statement",
        "debugger_statement",
        "if_statement",
        "for_statement",
        "for_in_statement",
        "while_statement",
        "do_statement",
        "try_statement",
        "switch_statement",
        "with_statement",
        "labeled_statement",
        "import_statement",
        "export_statement",
        "lexical_declaration",
        "variable_declaration",
        "using_declaration",
        "function_declaration",
        "generator_function_declaration",
        "class_declaration",
        "method_definition",
        "field_definition",
        "class_static_block",
    }
)

_TYPESCRIPT_STATEMENTS = _JAVASCRIPT_STATEMENTS | frozenset(
    {
        "interface_declaration",
        "type_alias_declaration",
        "enum_declaration",
        "abstract_class_declaration",
        "ambient_declaration",
        "function_signature",
        "module",
        "internal_module",
        "public_field_definition",
        "abstract_method_signature",
        "method_signature",
        "property_signature",
        "index_signature",
        "call_signature",
        "construct_signature",
    }
)

_GO_STATEMENTS = frozenset(
    {
        "expression_statement",
        "send_statement",
        "inc_statement",
        "dec_statement",
        "assignment_statement",
        "short_var_declaration",
        "return_statement",
        "go_statement",
        "defer_statement",
        "if_statement",
        "for_statement",
        "expression_switch_statement",
        "type_switch_statement",
        "select_statement",
        "labeled_statement",
        "fallthrough_statement",
        "break_statement",
        "continue_statement",
        "goto_statement",
        "var_declaration",
        "const_declaration",
        "type_declaration",
        "import_declaration",
        "package_clause",
        "function_declaration",
        "method_declaration",
    }
)

_RUST_STATEMENTS = frozenset(
    {
        "expression_statement",
        "let_declaration",
        "function_item",
        "function_signature_item",
        "impl_item",
        "struct_item",
        "enum_item",
        "union_item",
        "trait_item",
        "type_item",
        "const_item",
        "static_item",
        "mod_item",
        "use_declaration",
        "extern_crate_declaration",
        "foreign_mod_item",
        "macro_definition",
        "attribute_item",
        "inner_attribute_item",
    }
)

_JAVA_STATEMENTS = frozenset(
    {
        "expression_statement",
        "local_variable_declaration",
        "return_statement",
        "throw_statement",
        "break_statement",
        "continue_statement",
        "yield_statement",
        "if_statement",
        "for_statement",
        "enhanced_for_statement",
        "while_statement",
        "do_statement",
        "try_statement",
        "try_with_resources_statement",
        "synchronized_statement",
        "labeled_statement",
        "assert_statement",
        # The grammar parses a switch statement as a `switch_expression` directly in a block.
        "switch_expression",
        "explicit_constructor_invocation",
        "package_declaration",
        "import_declaration",
        "module_declaration",
        "class_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
        "annotation_type_declaration",
        "annotation_type_element_declaration",
        "method_declaration",
        "constructor_declaration",
        "compact_constructor_declaration",
        "field_declaration",
        "constant_declaration",
        "static_initializer",
    }
)

_JS_SCOPES = frozenset(
    {"function_declaration", "class_declaration", "method_definition", "function_expression"}
)


def _javascript_family(
    name: str,
    extensions: tuple[str, ...],
    statements: frozenset[str],
    scopes: frozenset[str],
    grammar: Callable[[], object],
) -> LanguageSpec:
    """JavaScript and its TypeScript dialects: the same bodies, comments and imports."""
    return LanguageSpec(
        name,
        extensions,
        statements,
        body_types=frozenset({"statement_block"}),
        comment_types=frozenset({"comment", "html_comment"}),
        import_types=frozenset({"import_statement"}),
        scope_types=scopes,
        grammar=grammar,
    )


_SPECS: tuple[LanguageSpec, ...] = (
    LanguageSpec(
        "python",
        (".py", ".pyi"),
        _PYTHON_STATEMENTS,
        body_types=frozenset({"block"}),
        comment_types=frozenset({"comment"}),
        import_types=frozenset(
            {"import_statement", "import_from_statement", "future_import_statement"}
        ),
        scope_types=frozenset({"function_definition", "class_definition"}),
        grammar=tree_sitter_python.language,
        bodies_need_a_statement=frozenset({"block"}),
        find_placeholders=python_placeholders,
    ),
    _javascript_family(
        "javascript",
        (".js", ".mjs", ".cjs", ".jsx"),
        _JAVASCRIPT_STATEMENTS,
        _JS_SCOPES,
        tree_sitter_javascript.language,
    ),
    _javascript_family(
        "typescript",
        (".ts", ".mts", ".cts"),
        _TYPESCRIPT_STATEMENTS,
        _JS_SCOPES - {"function_expression"} | {"interface_declaration"},
        tree_sitter_typescript.language_typescript,
    ),
    _javascript_family(
        "tsx",
        (".tsx",),
        _TYPESCRIPT_STATEMENTS,
        _JS_SCOPES - {"function_expression"},
        tree_sitter_typescript.language_tsx,
    ),
    LanguageSpec(
        "go",
        (".go",),
        _GO_STATEMENTS,
        body_types=frozenset({"statement_list"}),
        comment_types=frozenset({"comment"}),
        import_types=frozenset({"package_clause", "import_declaration"}),
        scope_types=frozenset({"function_declaration", "method_declaration"}),
        grammar=tree_sitter_go.language,
    ),
    LanguageSpec(
        "rust",
        (".rs",),
        _RUST_STATEMENTS,
        body_types=frozenset({"block"}),
        comment_types=frozenset({"line_comment", "block_comment"}),
        import_types=frozenset({"use_declaration"}),
        scope_types=frozenset({"function_item", "impl_item", "trait_item", "mod_item"}),
        grammar=tree_sitter_rust.language,
    ),
    LanguageSpec(
        "java",
        (".java",),
        _JAVA_STATEMENTS,
        body_types=frozenset({"block", "constructor_body"}),
        comment_types=frozenset({"line_comment", "block_comment"}),
        import_types=frozenset({"package_declaration", "import_declaration"}),
        scope_types=frozenset(
            {
                "class_declaration",
                "interface_declaration",
                "method_declaration",
                "constructor_declaration",
            }
        ),
        grammar=tree_sitter_java.language,
    ),
)

_BY_NAME: dict[str, LanguageSpec] = {spec.name: spec for spec in _SPECS}
_BY_EXTENSION: dict[str, LanguageSpec] = {ext: spec for spec in _SPECS for ext in spec.extensions}
# Short names people type, plus the LSP languageIds editors send for these languages.
_ALIASES: dict[str, str] = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "jsx": "javascript",
    "javascriptreact": "javascript",
    "node": "javascript",
    "ts": "typescript",
    "typescriptreact": "tsx",
    "golang": "go",
    "rs": "rust",
}


def language_names() -> list[str]:
    """The canonical names of the supported languages, in registry order."""
    return [spec.name for spec in _SPECS]


def language_for_name(name: str) -> LanguageSpec:
    """The language called `name` (or an alias such as "py", "ts", an LSP languageId)."""
    key = name.strip().lower()
    spec = _BY_NAME.get(_ALIASES.get(key, key))
    if spec is None:
        raise UnsupportedLanguage(name)
    return spec


def language_for_path(path: str | os.PathLike[str]) -> LanguageSpec:
    """The language of a file, by its extension (case-insensitive)."""
    _, ext = os.path.splitext(os.fspath(path))
    spec = _BY_EXTENSION.get(ext.lower())
    if spec is None:
        raise UnsupportedLanguage(os.fspath(path))
    return spec


@cache
def _ts_language(name: str) -> Language:
    return Language(_BY_NAME[name].grammar())
