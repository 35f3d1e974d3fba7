"""Lexicon-only baselines on the development benchmarks: CMD-1's term list against our lexicon.

Run from the repository root::

    python -m benchmarks.lexicon_baseline

For bench_core_dev and bench_stress_dev (rows labelled ambiguous, crisis == -1, excluded; a
second block counts them as crises, as the datasheet asks) and for each lexicon it reports
sensitivity and PPV with Wilson 95% intervals, false hits, flags per 1,000 messages, and
sensitivity per crisis type; and the matching speed of our lexicon on the same messages. Results
go to benchmarks/results/lexicon_baseline.json. Without ../shared/data it says so and exits 0.

A message is flagged by a lexicon when it has at least one active hit. The term lists are
matched as whole words on normalised text (and, for CMD-1, also as plain substrings, in case the
study's filter matched inside words); they have no context rules.
"""

from __future__ import annotations

import gc
import json
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scipy.stats import binomtest

from crisis_triage.io import read_table
from crisis_triage.lexicon import Lexicon
from crisis_triage.text import normalise

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT.parent / "shared" / "data"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "lexicon_baseline.json"
BENCHMARKS = ("bench_core_dev", "bench_stress_dev")
CATEGORY_TYPES = ("SI", "HI", "NSSI", "DV", "OD")


def wilson(successes: int, total: int) -> dict[str, float | int | None]:
    """A proportion with its Wilson score 95% interval (None when there is nothing to count)."""
    if total == 0:
        return {"value": None, "low": None, "high": None, "k": 0, "n": 0}
    interval = binomtest(successes, total).proportion_ci(confidence_level=0.95, method="wilson")
    return {
        "value": round(successes / total, 4),
        "low": round(float(interval.low), 4),
        "high": round(float(interval.high), 4),
        "k": successes,
        "n": total,
    }


def evaluate(flags: Sequence[bool], labels: Sequence[int], types: Sequence[str]) -> dict[str, Any]:
    """Sensitivity, PPV, false hits and flags per 1,000, overall and per crisis type."""
    positives = [i for i, y in enumerate(labels) if y == 1]
    true_hits = sum(flags[i] for i in positives)
    false_hits = sum(f and y == 0 for f, y in zip(flags, labels, strict=True))
    per_type: dict[str, Any] = {}
    for kind in CATEGORY_TYPES:
        members = [i for i in positives if kind in types[i].split("/")]
        if members:
            per_type[kind] = wilson(sum(flags[i] for i in members), len(members))
    return {
        "messages": len(labels),
        "positives": len(positives),
        "flagged": sum(flags),
        "sensitivity": wilson(true_hits, len(positives)),
        "ppv": wilson(true_hits, true_hits + false_hits),
        "false_hits": false_hits,
        "flags_per_1000": round(1000 * sum(flags) / len(labels), 1),
        "sensitivity_by_type": per_type,
    }


def category_agreement(lexicon: Lexicon, texts: Sequence[str], types: Sequence[str]) -> float:
    """Among flagged positives, the share whose labelled types include a category found."""
    agree = total = 0
    for text, kinds in zip(texts, types, strict=True):
        found = set(lexicon.categories(text))
        if found:
            total += 1
            agree += bool(found & set(kinds.split("/")))
    return round(agree / total, 4) if total else float("nan")


def timing(
    match: Callable[[str], object], texts: Sequence[str], repeats: int = 3
) -> dict[str, float]:
    """Per-message latency (µs, p50/p99 of the best repeat) and throughput on one core.

    Measured in CPU time of this process (``time.process_time``), not wall-clock time: the
    development machine is shared, and wall-clock time would include other processes' turns.
    """
    best: list[float] = []
    gc.disable()  # as timeit does: collector pauses are not the matcher's cost
    for _ in range(repeats):
        samples = []
        for text in texts:
            start = time.process_time()
            match(text)
            samples.append(time.process_time() - start)
        if not best or sum(samples) < sum(best):
            best = samples
    gc.enable()
    ordered = sorted(best)
    return {
        "messages_per_second": round(len(texts) / sum(best)),
        "p50_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(ordered[int(0.99 * (len(ordered) - 1))] * 1e6, 1),
    }


def speed(lexicon: Lexicon, texts: Sequence[str]) -> dict[str, Any]:
    """Our matcher against one plain alternation of the same patterns, on the same messages."""
    body = "|".join(f"(?P<g{i}>{e.pattern})" for i, e in enumerate(lexicon.entries))
    plain = re.compile(r"(?<![\w])(?:" + body + r")(?![\w]|'\w)")
    matcher = lexicon._terms  # the compiled term matcher behind Lexicon.match
    return {
        "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
        "match_with_context_rules": timing(lambda t: lexicon.match(t, normalised=True), texts),
        "terms_only_matcher": timing(lambda t: list(matcher.matches(t)), texts),
        "terms_only_plain_alternation": timing(lambda t: plain.findall(t), texts),
    }


def main() -> int:
    missing = [b for b in BENCHMARKS if not (DATA / f"{b}.csv.gz").is_file()]
    cmd1_path = DATA / "reference" / "cmd1_lexicon_swaminathan2023.csv"
    bloom_path = DATA / "reference" / "youth_suicide_lexicon_tokens_bloom2025.csv"
    if missing or not cmd1_path.is_file():
        print(f"skipped: shared data not found at {DATA} (needs {', '.join(BENCHMARKS)})")
        return 0

    ours = Lexicon.load()
    lexicons = {
        "ours": ours,
        "cmd1_terms": Lexicon.from_term_csv(cmd1_path),
        "cmd1_terms_substring": Lexicon.from_term_csv(cmd1_path, whole_words=False),
    }
    if bloom_path.is_file():
        lexicons["bloom2025_tokens"] = Lexicon.from_term_csv(bloom_path)

    report: dict[str, Any] = {
        "lexicons": {
            name: {"version": lx.version, "sha256": lx.sha256} for name, lx in lexicons.items()
        },
        "definition": "flagged = at least one active lexicon hit; crisis == -1 excluded "
        "(primary) or counted as crisis (ambiguous_as_crisis)",
        "benchmarks": {},
    }
    for bench in BENCHMARKS:
        table = read_table(DATA / f"{bench}.csv.gz", required=["text", "crisis"])
        texts = [normalise(t) for t in table["text"].fillna("")]
        labels = [int(c) for c in table["crisis"]]
        types = (
            list(table["crisis_type"].fillna("")) if "crisis_type" in table else [""] * len(labels)
        )
        keep = [i for i, y in enumerate(labels) if y != -1]
        result: dict[str, Any] = {}
        for name, lexicon in lexicons.items():
            flags = [bool(lexicon.active_hits(t, normalised=True)) for t in texts]
            primary = evaluate(
                [flags[i] for i in keep], [labels[i] for i in keep], [types[i] for i in keep]
            )
            primary["ambiguous_as_crisis"] = evaluate(flags, [abs(y) for y in labels], types)
            if name == "ours":
                positives = [i for i in keep if labels[i] == 1]
                primary["category_agreement"] = category_agreement(
                    lexicon, [texts[i] for i in positives], [types[i] for i in positives]
                )
            result[name] = primary
        result["speed"] = speed(ours, texts)
        report["benchmarks"][bench] = result
        _print(bench, result)
    report["environment"] = {"python": sys.version.split()[0], "machine": platform.machine()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0


def _print(bench: str, result: dict[str, Any]) -> None:
    print(f"\n{bench}")
    for name, r in result.items():
        if name == "speed":
            for what, numbers in r.items():
                print(f"  speed {what}: {numbers}")
            continue
        s, p = r["sensitivity"], r["ppv"]
        print(
            f"  {name:22s} sensitivity {s['k']}/{s['n']} = {s['value']:.3f} "
            f"[{s['low']:.3f}, {s['high']:.3f}]  PPV {p['value'] or 0:.3f}  "
            f"false hits {r['false_hits']}  flags/1000 {r['flags_per_1000']}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
