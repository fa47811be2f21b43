from urllib.parse import unquote_plus


def parse_query_string(query: str) -> dict[str, list[str]]:
    """Parse 'a=1&b=2&a=3' into {'a': ['1', '3'], 'b': ['2']}.

    A leading '?' is ignored, empty pieces are skipped, names and values are URL-decoded
    ('+' is a space), and a name without '=' gets the value ''.
    """
    result: dict[str, list[str]] = {}
    for pair in query.lstrip("?").split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        result.setdefault(unquote_plus(key), []).append(unquote_plus(value))
    return result


def check(candidate):
    assert candidate("a=1&b=2&a=3") == {"a": ["1", "3"], "b": ["2"]}
    assert candidate("?q=hello+world&lang=en") == {"q": ["hello world"], "lang": ["en"]}
    assert candidate("") == {}
    assert candidate("flag&x=&&y=%2Fpath%3F") == {"flag": [""], "x": [""], "y": ["/path?"]}
    assert candidate("a%20b=c=d") == {"a b": ["c=d"]}


ENTRY_POINT = "parse_query_string"
