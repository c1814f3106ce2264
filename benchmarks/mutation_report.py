"""Score and survivors of the last `mutmut run` (run by `make mutation`), as Markdown.

    python -m benchmarks.mutation_report [--out benchmarks/results/mutation.md]

A mutant is *killed* when a test fails against it (or it times out: the tests noticed). Two
kinds of mutant are left out of the score: those listed as equivalent in
benchmarks/mutation_equivalent.txt (no test can kill them, because they do not change what
the function computes; each is listed with its reason), and those that only matter on a
GPU: every mutant that only drops a ``device=`` argument (found by this script), and the
listed ones whose reason starts with "needs a GPU". They change nothing on the CPU, and the
``gpu``-marked tests catch them on CUDA. The score of a module is
killed / (mutants - those two kinds). A listed mutant that is killed, or that no longer
exists, is reported as a stale entry: mutant names follow the code, so the list must follow
it too.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files

from tools import report as report_module

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = ROOT / "benchmarks" / "mutation_equivalent.txt"
KILLED = {"killed", "timeout", "caught by type check"}


def equivalent_mutants(path: Path = EQUIVALENT) -> dict[str, str]:
    """`name: reason` lines; `#` starts a comment line."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, reason = line.partition(":")
            if not reason.strip():
                raise ValueError(f"{path.name}: {name.strip()!r} has no reason")
            found[name.strip()] = reason.strip()
    return found


DEVICE_ARG = re.compile(r",?\s*device=[\w.]+")


def needs_a_gpu(diff_lines: list[str]) -> bool:
    """The mutant only drops or nulls a ``device=`` argument: on the CPU that changes nothing
    (tensors are made on the CPU anyway); on a GPU it mixes devices, which the tests marked
    ``gpu`` catch. Such mutants cannot be killed on a machine without CUDA."""
    removed = [line[1:] for line in diff_lines if line.startswith("-")]
    added = [line[1:] for line in diff_lines if line.startswith("+")]
    if len(removed) != 1 or len(added) != 1 or "device" not in removed[0]:
        return False
    plain = lambda text: re.sub(r"\s+", "", DEVICE_ARG.sub("", text)).replace(",)", ")")  # noqa: E731
    return plain(removed[0]) == plain(added[0].replace("device=None", "device=x"))


def collect() -> dict[str, dict[str, str]]:
    """module path -> {mutant name: status}."""
    statuses = {}
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        statuses[str(path)] = {k: status_by_exit_code[v] for k, v in data.exit_code_by_key.items()}
    return statuses


def report(statuses: dict[str, dict[str, str]], equivalent: dict[str, str]) -> tuple[str, bool]:
    lines = []
    lines += [
        "| module | mutants | killed | equivalent | needs a GPU | not killed | not run | score |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    survivors: dict[str, list[tuple[str, str]]] = defaultdict(list)
    all_names = set()
    complete = True
    for module, by_name in sorted(statuses.items()):
        all_names |= set(by_name)
        counts = Counter()
        for name, status in by_name.items():
            if status == "not checked":
                counts["not run"] += 1
                complete = False
            elif status in KILLED:
                counts["killed"] += 1
            elif name in equivalent and equivalent[name].startswith("needs a GPU"):
                counts["needs a GPU"] += 1
            elif name in equivalent:
                counts["equivalent"] += 1
            elif needs_a_gpu(get_diff_for_mutant(name, path=module).splitlines()[2:]):
                counts["needs a GPU"] += 1
            else:
                counts["not killed"] += 1
                survivors[module].append((name, status))
        considered = len(by_name) - counts["equivalent"] - counts["not run"] - counts["needs a GPU"]
        score = counts["killed"] / considered if considered else float("nan")
        lines.append(f"| `{module}` | {len(by_name)} | {counts['killed']} | "
                     f"{counts['equivalent']} | {counts['needs a GPU']} | {counts['not killed']} | "
                     f"{counts['not run']} | {score:.1%} |")  # fmt: skip
    stale = sorted(n for n in equivalent if n not in all_names or any(
        statuses[m].get(n) in KILLED for m in statuses))  # fmt: skip
    if stale:
        lines += ["", "## Stale entries in mutation_equivalent.txt", ""]
        lines += [f"- `{name}`" for name in stale]
    for module, found in sorted(survivors.items()):
        lines += ["", f"## Not killed in `{module}` ({len(found)})", ""]
        by_status = Counter(status for _, status in found)
        lines.append(", ".join(f"{n} {s}" for s, n in sorted(by_status.items())))
        for name, status in sorted(found, key=lambda item: _natural(item[0])):
            diff = get_diff_for_mutant(name, path=module)
            body = "\n".join(line for line in diff.splitlines()[2:] if line[:1] in "+-")
            lines += ["", f"`{name}` ({status})", "", "```diff", body, "```"]
    return "\n".join(lines) + "\n", complete


def _natural(name: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=report_module.RESULTS / "mutation.md")
    args = parser.parse_args(argv)
    text, complete = report(collect(), equivalent_mutants())
    stamp = report_module.header("Mutation testing: score and survivors", "make mutation",
                                 "one thread per process")  # fmt: skip
    text = "\n".join(stamp) + "\n\n" + text
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text.split("\n## ")[0])
    print(f"Report with every surviving mutant: {args.out}")
    if not complete:
        print("Some mutants were not checked: the run did not finish.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
