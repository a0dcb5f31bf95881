"""Function openings of Python source: the PIQA stand-in's goal (a function header) and solution (its first
statement), found by lines alone, without parsing, so any packaged source file works."""

from __future__ import annotations

import re

_DEF = re.compile(r"^( *)def [A-Za-z_]\w*\(", re.M)


def function_openings(doc: str) -> list[tuple[str, str]]:
    """(header, first statement) of each function in ``doc``; header = signature (<= 4 lines) + docstring
    (<= 6 lines), dedented. Functions whose first statement is short, empty or a decorator are skipped."""
    lines = doc.split("\n")
    out = []
    for match in _DEF.finditer(doc):
        first, indent = doc.count("\n", 0, match.start()), len(match.group(1))
        end = next(
            (i for i in range(first, min(first + 4, len(lines))) if lines[i].rstrip().endswith(":")), None
        )
        if end is None:  # no signature line ending in ':' (and so no body) within 4 lines
            continue
        body = [i for i in range(end + 1, min(end + 40, len(lines))) if lines[i].strip()]
        if len(body) < 2 or len(lines[body[0]]) - len(lines[body[0]].lstrip()) <= indent:
            continue
        quote = lines[body[0]].strip()[:3]
        k = 0  # index in body of the first statement
        if quote in ('"""', "'''"):
            rest = lines[body[0]].strip()[3:]
            k = (
                1
                if quote in rest
                else next((j + 1 for j in range(1, len(body)) if quote in lines[body[j]]), 0)
            )
            if k == 0 or k > 6 or k >= len(body):
                continue
        header = "\n".join(line[indent:] for line in lines[first : (body[k - 1] if k else end) + 1])
        statement = lines[body[k]].strip()
        if (
            8 <= len(statement) <= 100
            and not statement.startswith(("#", "@", "pass", "...", "'", '"'))
            and statement[-1] not in "([{,\\"
        ):
            out.append((header, statement))
    return out
