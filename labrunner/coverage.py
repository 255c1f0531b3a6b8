"""`labrunner dev coverage`: which steps teach each curriculum topic."""

from __future__ import annotations

from .model import Curriculum, Lab


def topic_coverage(labs: list[Lab], curriculum: Curriculum) -> dict[str, list[str]]:
    """Topic id -> ["lab/step", ...] in curriculum order; uncovered ids map to []."""
    covered: dict[str, list[str]] = {topic: [] for topic in curriculum.topics}
    for lab in labs:
        for step in lab.steps:
            for topic in step.topics:
                covered.setdefault(topic, []).append(f"{lab.id}/{step.id}")
    return covered


def print_coverage(labs: list[Lab], curriculum: Curriculum) -> int:
    covered = topic_coverage(labs, curriculum)
    width = max(len(t) for t in covered)
    for topic, steps in covered.items():
        kind = " (concept)" if topic in curriculum.concept_only else ""
        print(f"{topic:<{width}}  {', '.join(steps) if steps else '-- not covered --'}{kind}")
    missing = [t for t, steps in covered.items() if not steps]
    print(f"\n{len(covered) - len(missing)}/{len(covered)} topics covered")
    return 0
