import re

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*(?:\|\s*(\w+)\s*)?\}\}")
FILTERS = {"upper": str.upper, "lower": str.lower}


def render_template(template: str, values: dict[str, object]) -> str:
    """Replace '{{ name }}' placeholders with values; '{{ name | upper }}' and
    '{{ name | lower }}' change the case (other filters do nothing). Placeholders of
    unknown names stay as they are."""

    def replace(match: re.Match[str]) -> str:
        """The text for one placeholder."""
        name, filter_name = match.groups()
        if name not in values:
            return match.group(0)
        text = str(values[name])
        return FILTERS[filter_name](text) if filter_name in FILTERS else text

    return _PLACEHOLDER.sub(replace, template)


def check(candidate):
    assert candidate("Hello, {{ name }}!", {"name": "Ada"}) == "Hello, Ada!"
    assert candidate("{{name|upper}} {{ name | lower }}", {"name": "Ada"}) == "ADA ada"
    assert candidate("{{ missing }} stays", {}) == "{{ missing }} stays"
    assert candidate("n={{n}}", {"n": 3}) == "n=3"
    assert candidate("no placeholders", {"x": 1}) == "no placeholders"
    assert candidate("{{ a }}{{ b | title }}", {"a": 1, "b": "Xy"}) == "1Xy"


ENTRY_POINT = "render_template"
