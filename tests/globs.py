"""Text near a shell-style pattern, for tests that compare two ways of matching patterns over
rows drawn at random (Python at load time, SQL on stored rows): text drawn this way matches the
pattern about as often as it just misses, so both outcomes get exercised."""

import random

# Characters both engines treat alike (SQLite matches patterns with Python's `re`, PostgreSQL
# with its own engine): ASCII, a newline (which `*` must match inside a value), and text beyond
# ASCII that has no case-insensitive twin among ASCII letters.
FILLER = "abcXYZ019 -_.:/()é€日\n"


def text_near(pattern: str, rng: random.Random, *, other_case: float = 0.3) -> str:
    """Text matching `pattern` as fnmatch reads it, with a few characters of it dropped or
    replaced, and a share `other_case` of its letters in the other case."""
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            out.append(filler(rng, rng.randrange(4)))
        elif char == "?":
            out.append(filler(rng, 1))
        elif char == "[" and (end := pattern.find("]", index + 1)) != -1:
            members = pattern[index:end].lstrip("!").replace("-", "") or "x"
            index = end + 1
            out.append(rng.choice(members) if rng.random() < 0.8 else filler(rng, 1))
        elif (roll := rng.random()) < 0.03:
            continue
        elif roll < 0.06:
            out.append(filler(rng, 1))
        else:
            out.append(char.swapcase() if rng.random() < other_case else char)
    return "".join(out)


def filler(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(FILLER) for _ in range(length))
