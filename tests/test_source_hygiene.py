"""Source text stands on its own: no pointers to tracker issues or to a particular machine in code, help
texts, docstrings or tests. A reader of a clone has neither the tracker nor the machine; say what was measured
and on what hardware instead ("measured on a 2-core CPU")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("zip2zip", "benchmarks", "paper_tables", "tests")
FILES = ("noxfile.py",)
SUFFIXES = {".py", ".md", ".yaml", ".toml"}

# Each pattern with a reason a reviewer can act on.
FORBIDDEN: dict[str, re.Pattern[str]] = {
    "refers to a tracker issue number": re.compile(r"\bissues?\s*(?:#\s*)?\d", re.IGNORECASE),
    "refers to numbered issue tests": re.compile(r"\bissue\s+tests?\b", re.IGNORECASE),
    "refers to a particular machine": re.compile(
        r"\bthis\s+(?:project's\s+)?(?:[\w-]+\s+)?machine\b", re.IGNORECASE
    ),
}


def _source_files() -> list[Path]:
    paths = [ROOT / name for name in FILES]
    for folder in FOLDERS:
        paths += sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in SUFFIXES and p.is_file())
    # This file spells the patterns out; it is checked by the examples below instead.
    return [p for p in paths if p != Path(__file__).resolve()]


def _violations(text: str) -> list[tuple[int, str, str]]:
    """(line number, reason, line) for every forbidden phrase in ``text``."""
    return [
        (number, reason, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        for reason, pattern in FORBIDDEN.items()
        if pattern.search(line)
    ]


# The examples are assembled from these words so that a plain grep for the phrases finds no source file.
ISSUE, HOST = "issue", "machine"


@pytest.mark.parametrize(
    "text",
    [
        f"fixes the off-by-one ({ISSUE} 3)",
        f"see {ISSUE} #7",
        f"{ISSUE.title()}s 4 and 5",
        f"{ISSUE} tests 1 (greedy) and 3",
        f"measured on this {HOST}",
        f"measured on this project's 2-core {HOST}",
        f"on this 2-core {HOST}",
    ],
)
def test_patterns_catch_the_examples(text: str) -> None:
    assert _violations(text)


@pytest.mark.parametrize(
    "text",
    [
        "measured on a 2-core CPU",
        "platform.machine()",
        "absolute tokens/s are not comparable across machines",
    ],
)
def test_patterns_spare_ordinary_text(text: str) -> None:
    assert not _violations(text)


def test_sources_have_no_issue_or_machine_references() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {reason}: {line}"
        for path in _source_files()
        for number, reason, line in _violations(path.read_text(encoding="utf-8"))
    ]
    assert not found, "reword these to stand on their own:\n" + "\n".join(found)


def test_committed_checkpoints_name_no_local_install_path() -> None:
    """The embedded checkpoints name their base portably (``package:...``), never the training machine's path.

    ``train_log.json`` is exempt: it records where that run kept its data cache, and nothing loads it."""
    local_path = re.compile(r"(?:site-packages|/\.nox/|/home/|/work/|/root/)")
    texts = [
        p for p in (ROOT / "models").rglob("*") if p.suffix in {".json", ".md"} and p.name != "train_log.json"
    ]
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in texts
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if local_path.search(line)
    ]
    assert texts and not offenders, offenders


def test_committed_results_name_task_configs_relative_to_the_repository() -> None:
    """lm-eval records each task's YAML by path; a committed result names it as a clone has it."""
    sources = [
        (p.relative_to(ROOT), m.group(1))
        for p in (ROOT / "results").rglob("*.json")
        for m in re.finditer(r'"config_source": "([^"]*)"', p.read_text(encoding="utf-8"))
    ]
    assert sources and all(not Path(s).is_absolute() for _, s in sources), sources
