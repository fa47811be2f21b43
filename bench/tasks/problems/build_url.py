from urllib.parse import urlencode


def build_url(base: str, *segments: str, **params: str | int | None) -> str:
    """Join a base URL and path segments with single slashes, then add the query
    parameters whose value is not None, sorted by name and URL-encoded."""
    url = base.rstrip("/")
    for segment in segments:
        url += "/" + segment.strip("/")
    query = urlencode(sorted((k, v) for k, v in params.items() if v is not None))
    return f"{url}?{query}" if query else url


def check(candidate):
    assert candidate("https://api.test/", "/v1/", "users") == "https://api.test/v1/users"
    assert candidate("https://api.test", "items", page=2, q="red shoes") == (
        "https://api.test/items?page=2&q=red+shoes"
    )
    assert candidate("https://api.test", sort=None) == "https://api.test"
    assert candidate("https://api.test//", b="2", a="1") == "https://api.test?a=1&b=2"
    assert candidate("http://h", "a/b", "c") == "http://h/a/b/c"
    assert candidate("http://h", path="x&y") == "http://h?path=x%26y"


ENTRY_POINT = "build_url"
