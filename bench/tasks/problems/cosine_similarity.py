import math


def cosine_similarity(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine similarity of two sparse vectors given as {feature: weight}; 0.0 when
    either vector is all zeros (or empty)."""
    dot = sum(weight * b.get(feature, 0.0) for feature, weight in a.items())
    norm_a = math.sqrt(sum(w * w for w in a.values()))
    norm_b = math.sqrt(sum(w * w for w in b.values()))
    return dot / (norm_a * norm_b) if norm_a and norm_b else 0.0


def check(candidate):
    assert abs(candidate({"x": 1.0}, {"x": 3.0}) - 1.0) < 1e-12
    assert candidate({"x": 1.0}, {"y": 1.0}) == 0.0
    assert abs(candidate({"x": 1.0, "y": 1.0}, {"x": 1.0}) - 1 / math.sqrt(2)) < 1e-12
    assert abs(candidate({"a": 1.0, "b": 2.0}, {"a": -1.0, "b": -2.0}) + 1.0) < 1e-12
    assert candidate({}, {"x": 1.0}) == 0.0
    assert candidate({"x": 0.0}, {"x": 0.0}) == 0.0
    assert abs(candidate({"a": 3.0, "b": 4.0}, {"a": 4.0, "b": 3.0}) - 0.96) < 1e-12


ENTRY_POINT = "cosine_similarity"
