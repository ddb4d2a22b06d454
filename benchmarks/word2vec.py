"""word2vec: the default run and a longer run, timed end to end.

    python -m benchmarks.word2vec [--epochs N] [--dim D] [--record]

Runs `python -m micro word2vec` as a reader would, then the same with
--epochs N --dim D, and records both outputs with the CPU time and wall
time of each command. The program uses one core, so on an otherwise idle
machine its wall time is its CPU time; other work on the machine adds wall
time only.
"""

import argparse
import resource
import subprocess
import sys
import time

from benchmarks.common import ROOT, emit, header


INPUTS = [
    "micro/word2vec.py",
    "micro/prelude.py",
    "micro/data/docstrings.txt",
]
LONG_EPOCHS = 8
LONG_DIM = 64


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(args):
    """(wall seconds, CPU seconds, output lines) of one command."""
    start, cpu = time.perf_counter(), cpu_seconds()
    result = subprocess.run(
        [sys.executable, "-m", "micro", "word2vec", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    return wall, cpu_seconds() - cpu, result.stdout.splitlines()


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.word2vec")
    parser.add_argument("--epochs", type=int, default=LONG_EPOCHS)
    parser.add_argument("--dim", type=int, default=LONG_DIM)
    parser.add_argument(
        "--record",
        action="store_true",
        help="also write benchmarks/results/word2vec.txt",
    )
    args = parser.parse_args()

    lines = header("word2vec", INPUTS)
    for name, argv in [
        ("default run", []),
        ("longer run", ["--epochs", str(args.epochs), "--dim", str(args.dim)]),
    ]:
        wall, cpu, output = timed_run(argv)
        command = " ".join(["python -m micro word2vec", *argv])
        lines += [
            "",
            f"{name}: $ {command}",
            f"  (CPU time {cpu:.1f}s, wall time {wall:.1f}s)",
        ]
        lines += output
    emit("word2vec", lines, args.record)


if __name__ == "__main__":
    main()
