# Tangled from book/build.md: edit the chapter, not this file.
"""The command line: list the chapters, run one, or measure them.

python -m micro                       the chapters, in reading order
python -m micro <chapter> [options]   train and run one chapter
python -m micro bench [chapter ...]   run chapters' defaults and record
                                      their figures (the Results page)
"""

import argparse
import collections
import datetime
import hashlib
import importlib
import json
import math
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile
import time


# Learning-path order; only chapters that exist.
CHAPTERS = {
    "prelude": "the data every chapter uses, and the bigram baseline",
    "tokenizer": "byte-level BPE: how text becomes numbers",
    "word2vec": "skip-gram with negative sampling",
    "embedding": "contrastive learning (InfoNCE): meaning as geometry",
    "autograd": "a scalar reverse-mode autodiff engine",
    "optimizers": "SGD, momentum, RMSProp and Adam, compared",
    "gpt": "a decoder-only transformer: sequences become predictions",
}
# A chapter whose module has a shorter name than the chapter.
MODULES = {"optimizers": "optim"}
USAGE = "usage: python -m micro [chapter] [options]"


def listing():
    width = max(map(len, CHAPTERS))
    lines = [USAGE, "", "chapters, in reading order:"]
    for number, (name, summary) in enumerate(CHAPTERS.items()):
        lines.append(f"  {number:>2}  {name:<{width}}  {summary}")
    lines.append("")
    lines.append("python -m micro <chapter> --help shows a chapter's options")
    lines.append("python -m micro bench [chapter ...] measures chapters")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(listing())
        return 0
    name, rest = argv[0], argv[1:]
    if name == "bench":
        return bench(rest)
    if name not in CHAPTERS:
        print(USAGE, file=sys.stderr)
        print(
            f"micro: error: unknown chapter {name!r}; choose from "
            f"{', '.join(CHAPTERS)}",
            file=sys.stderr,
        )
        return 2
    chapter = importlib.import_module(f"micro.{MODULES.get(name, name)}")
    return chapter.main(rest, prog=f"python -m micro {name}")


Bench = collections.namedtuple("Bench", "figures baselines targets")


class BenchError(Exception):
    """A chapter's run cannot be measured; the message says why."""


def cell(row, k):
    """A pattern for column k (from 0) of the table row that row opens."""
    return row + r" +(?:\S+ +){" + str(k) + r"}(\S+?)%?(?=\s|$)"


def uniform_guess(symbols):
    """ln(symbols), printed like a loss: the cost of a uniform guess."""
    return f"{math.log(int(symbols)):.4f}"


BENCH = {}

BENCH["prelude"] = Bench(
    figures=[
        ("add-one val loss", r"^  add-one +train [\d.]+ \| val ([\d.]+)$"),
        ("add-one train loss", cell(r"^  add-one", 1)),
    ],
    baselines=[
        ("uniform guess", r"vocabulary (\d+) symbols", uniform_guess),
        ("unsmoothed train loss", cell(r"^  unsmoothed", 1)),
    ],
    targets=[
        (
            "val loss below the uniform guess",
            lambda v: v["add-one val loss"] < v["uniform guess"],
        ),
    ],
)

BENCH["tokenizer"] = Bench(
    figures=[
        ("English bytes/token", cell(r"^ +1000 +\d+", 0)),
        ("Korean bytes/token", cell(r"^ +1000 +\d+", 1)),
    ],
    baselines=[
        ("English, raw bytes", cell(r"^ +0 +256", 0)),
        ("Korean, raw bytes", cell(r"^ +0 +256", 1)),
    ],
    targets=[
        ("English above 2.70", lambda v: v["English bytes/token"] > 2.70),
        ("Korean above 1.66", lambda v: v["Korean bytes/token"] > 1.66),
    ],
)


BENCH["word2vec"] = Bench(
    figures=[("trained AUC", cell(r"^  trained vectors", 0))],
    baselines=[
        ("untrained AUC", cell(r"^  untrained vectors", 0)),
        ("context frequency AUC", cell(r"^  context frequency", 0)),
        ("PMI AUC", cell(r"^  PMI \(.*?\)", 0)),
    ],
    targets=[
        ("trained AUC at least 0.62", lambda v: v["trained AUC"] >= 0.62),
        (
            "at least frequency + 0.10",
            lambda v: v["trained AUC"] >= v["context frequency AUC"] + 0.10,
        ),
    ],
)

LEARNED = r"^  learned projection \(\d+\)"
RANDOM = r"^  random projection \(\d+\)"
COUNTS = r"^  raw n-gram counts \([\d,]+\)"
BENCH["embedding"] = Bench(
    figures=[
        ("top-1 (%)", cell(LEARNED, 0)),
        ("top-5 (%)", cell(LEARNED, 1)),
        ("cosine, matching pairs", cell(LEARNED, 2)),
        ("cosine, random pairs", cell(LEARNED, 3)),
    ],
    baselines=[
        ("random projection top-1 (%)", cell(RANDOM, 0)),
        ("raw n-gram counts top-1 (%)", cell(COUNTS, 0)),
    ],
    targets=[
        (
            "top-1 at least random + 15 points",
            lambda v: v["top-1 (%)"] >= v["random projection top-1 (%)"] + 15,
        ),
        (
            "top-1 above the raw counts",
            lambda v: v["top-1 (%)"] > v["raw n-gram counts top-1 (%)"],
        ),
        (
            "cosines above 0.8 matching, below 0.3 random",
            lambda v: (
                v["cosine, matching pairs"] > 0.8
                and v["cosine, random pairs"] < 0.3
            ),
        ),
    ],
)


BENCH["autograd"] = Bench(
    figures=[
        ("gradient checks pass", r"^  all below 1e-06: (yes|no)$"),
        ("neural bigram train loss", r"^training loss: neural ([\d.]+) "),
        ("gap to the count bigram", r"\| gap ([\d.]+) nats$"),
        ("fused speed-up, layer", cell(r"^  64x64 layer, \S+", 2)),
        ("fused speed-up, MLP", cell(r"^  2-32-32-2 MLP step, batch \d+", 2)),
    ],
    baselines=[
        ("count bigram train loss", r"count bigram \(unsmoothed\) ([\d.]+) "),
    ],
    targets=[
        ("gradient checks pass", lambda v: v["gradient checks pass"] == 1),
        ("gap below 0.01 nats", lambda v: v["gap to the count bigram"] < 0.01),
        (
            "fused at least 5x faster",
            lambda v: (
                min(v["fused speed-up, layer"], v["fused speed-up, MLP"]) >= 5
            ),
        ),
    ],
)


TASKS = ("valley", "saddle", "bigram")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def steps(task, optimizer):
    """Pattern: steps to the target of optimizer in task's table."""
    return cell(rf"^{task}:.*\n(?:  .*\n)*?  {optimizer}", 4)


def beats_sgd(v):
    """On every task, some optimizer reaches the target before SGD."""
    return all(
        min(v[f"{task}, {name} (steps)"] for name in OPTIMIZERS[1:])
        < v[f"{task}, sgd (steps)"]
        for task in TASKS
    )


BENCH["optimizers"] = Bench(
    figures=[
        (f"{task}, {name} (steps)", steps(task, name))
        for task in TASKS
        for name in OPTIMIZERS[1:]
    ],
    baselines=[(f"{task}, sgd (steps)", steps(task, "sgd")) for task in TASKS],
    targets=[
        (
            "Adam reaches every target",
            lambda v: all(
                v[f"{task}, adam (steps)"] < math.inf for task in TASKS
            ),
        ),
        ("some optimizer beats SGD on every task", beats_sgd),
    ],
)

BENCH["gpt"] = Bench(
    figures=[
        ("val loss", r"^val loss \(nats per character\): gpt ([\d.]+) "),
        ("new names (%)", r"^new names: ([\d.]+)% "),
        ("training tokens/s", r" ([\d,]+) tokens/s$"),
    ],
    baselines=[("add-one bigram val loss", r"\| add-one bigram ([\d.]+) \|")],
    targets=[
        (
            "val loss below the add-one bigram",
            lambda v: v["val loss"] < v["add-one bigram val loss"],
        ),
    ],
)


def number(text, chapter, name):
    """A printed figure as a float: 'never' is inf, 'yes'/'no' are 1/0."""
    words = {"never": math.inf, "yes": 1.0, "no": 0.0}
    if text in words:
        return words[text]
    try:
        return float(text.replace(",", "").rstrip("x"))
    except ValueError:
        raise BenchError(
            f"{chapter}: {name} is {text!r}, not a number"
        ) from None


def extract(chapter, output):
    """Figures, baselines and targets met, from a chapter's output."""
    spec, found = BENCH[chapter], {"figures": {}, "baselines": {}}
    for kind, table in found.items():
        for name, pattern, *convert in getattr(spec, kind):
            match = re.search(pattern, output, re.M)
            if match is None:
                raise BenchError(
                    f"{chapter}: no {name!r} in its output (nothing matches "
                    f"{pattern!r}); if the report changed, update BENCH in "
                    "book/build.md"
                )
            table[name] = convert[0](match[1]) if convert else match[1]
    v = {
        name: number(text, chapter, name)
        for table in found.values()
        for name, text in table.items()
    }
    found["targets"] = [
        {"target": text, "met": bool(test(v))} for text, test in spec.targets
    ]
    return found


ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "bench.json"


def fingerprint(files, root=ROOT):
    """16 hex digits of SHA-256 over the files' names and bytes, by name."""
    digest = hashlib.sha256()
    for name in sorted(files):
        path = pathlib.Path(root) / name
        content = path.read_bytes() if path.is_file() else None
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(
            b"missing" if content is None else hashlib.sha256(content).digest()
        )
    return digest.hexdigest()[:16]


def is_current(entry, root=ROOT):
    """Whether an entry's files are still the ones it measured."""
    files = entry.get("files")
    return bool(files) and fingerprint(files, root) == entry.get("fingerprint")


CHILD = (
    "import sys; from micro.cli import child; sys.exit(child(*sys.argv[1:]))"
)


def child(chapter, used):
    """Run a chapter as python -m micro does; write the files it used."""
    opened = []

    def audit(event, args):
        if event == "open" and isinstance(args[0], (str, os.PathLike)):
            opened.append(os.fspath(args[0]))

    sys.addaudithook(audit)
    status = main([chapter])
    package = pathlib.Path(__file__).resolve().parent
    modules = [
        module.__file__
        for name, module in sys.modules.items()
        if name.startswith("micro.")
        and name != __name__
        and getattr(module, "__file__", None)
    ]
    data = [
        path
        for path in map(pathlib.Path, opened)
        if path.resolve().is_relative_to(package / "data")
    ]
    files = {
        pathlib.Path(path).resolve().relative_to(ROOT).as_posix()
        for path in modules + data
    }
    record = {"files": sorted(files), "cpu_seconds": time.process_time()}
    pathlib.Path(used).write_text(json.dumps(record), encoding="utf-8")
    return status


def measure(chapter):
    """Run a chapter's defaults in a fresh process; its results entry."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )
    with tempfile.TemporaryDirectory() as folder:
        used = pathlib.Path(folder) / "used.json"
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, chapter, str(used)],
            capture_output=True,
            encoding="utf-8",
            env=env,
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise BenchError(
                f"{chapter}: python -m micro {chapter} exited with status "
                f"{done.returncode}:\n{tail}"
            )
        run = json.loads(used.read_text(encoding="utf-8"))

    return {
        "command": f"python -m micro {chapter}",
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "python": platform.python_version(),
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(run["cpu_seconds"], 1),
        "fingerprint": fingerprint(run["files"]),
        "files": run["files"],
        **extract(chapter, done.stdout),
    }


def machine():
    """The processor, its cores and the operating system."""
    cpu = platform.processor() or platform.machine()
    try:
        info = pathlib.Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        info = ""
    for line in info.splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{cpu}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.machine()}"
    )


def load_results(path):
    """The recorded entries by chapter; {} when there is no file yet."""
    path = pathlib.Path(path)
    if not path.exists():
        return {}
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BenchError(f"{path}: not a results file ({error})") from None
    if not isinstance(results, dict):
        raise BenchError(f"{path}: not a results file (not an object)")
    return results


def save_results(path, results):
    """Write the entries in reading order, replacing the file whole."""
    order = [*CHAPTERS, *sorted(set(results) - set(CHAPTERS))]
    text = json.dumps(
        {name: results[name] for name in order if name in results},
        indent=2,
        ensure_ascii=False,
    )
    path = pathlib.Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text + "\n", encoding="utf-8")
    os.replace(partial, path)


def summary(chapter, entry):
    """A few lines saying what was measured for one chapter."""
    figures = " | ".join(f"{k} {v}" for k, v in entry["figures"].items())
    baselines = " | ".join(f"{k} {v}" for k, v in entry["baselines"].items())
    lines = [
        f"{chapter}: {entry['wall_seconds']}s wall, "
        f"{entry['cpu_seconds']}s CPU; fingerprint {entry['fingerprint']}",
        f"  figures: {figures}",
        f"  baselines: {baselines}",
    ]
    for target in entry["targets"]:
        verdict = "met" if target["met"] else "MISSED"
        lines.append(f"  target {verdict}: {target['target']}")
    return "\n".join(lines)


def bench(argv):
    parser = argparse.ArgumentParser(
        prog="python -m micro bench",
        description="Run chapters' default configurations; record results.",
    )
    parser.add_argument(
        "chapters",
        nargs="*",
        metavar="chapter",
        help=f"chapters to run (default: all): {', '.join(CHAPTERS)}",
    )
    parser.add_argument(
        "--results",
        metavar="PATH",
        default=str(RESULTS),
        help="JSON file to update (default: benchmarks/results/bench.json)",
    )
    args = parser.parse_args(argv)
    for name in args.chapters:
        if name not in CHAPTERS:
            parser.error(
                f"unknown chapter {name!r}; choose from {', '.join(CHAPTERS)}"
            )
    if not pathlib.Path(args.results).parent.is_dir():
        parser.error(f"{args.results}: its folder does not exist")
    try:
        results = load_results(args.results)
    except BenchError as error:
        parser.error(str(error))

    failed = []
    for chapter in dict.fromkeys(args.chapters or CHAPTERS):
        print(f"running python -m micro {chapter}", flush=True)
        try:
            results[chapter] = measure(chapter)
        except BenchError as error:
            print(f"bench: error: {error}", file=sys.stderr, flush=True)
            failed.append(chapter)
            continue
        save_results(args.results, results)
        print(summary(chapter, results[chapter]), flush=True)
    if failed:
        print(f"bench: not recorded: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"recorded in {args.results}")
    return 0
