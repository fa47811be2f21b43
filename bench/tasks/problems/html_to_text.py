import re

_TAG = re.compile(r"<[^>]+>")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&amp;": "&"}


def html_to_text(html: str) -> str:
    """Plain text from a fragment of HTML: tags become spaces, the five basic entities are
    decoded (an escaped entity such as '&amp;lt;' stays '&lt;'), and runs of whitespace
    collapse to one space."""
    text = _TAG.sub(" ", html)
    for entity, char in _ENTITIES.items():
        text = text.replace(entity, char)
    return " ".join(text.split())


def check(candidate):
    assert candidate("<p>Hello <b>world</b></p>") == "Hello world"
    assert candidate("a<br>b") == "a b"
    assert candidate("1 &lt; 2 &amp;&amp; 3 &gt; 2") == "1 < 2 && 3 > 2"
    assert candidate("&amp;lt;") == "&lt;"
    assert candidate("say &quot;hi&quot; &#39;now&#39;") == "say \"hi\" 'now'"
    assert candidate("  \n ") == ""
    assert candidate("<ul>\n  <li>one</li>\n  <li>two</li>\n</ul>") == "one two"


ENTRY_POINT = "html_to_text"
