"""The embedding chapter's full run, timed, as the chapter shows it.

    python -m benchmarks.embedding [--record]

Runs `python -m micro embedding` with its defaults in a fresh process
(the reader's command), and records its output with the machine, a
fingerprint of the code and data, and the wall time of the whole command.
"""

import argparse
import resource
import subprocess
import sys
import time

from benchmarks.common import ROOT, emit, header


INPUTS = [
    "micro/embedding.py",
    "micro/prelude.py",
    "micro/data/names.txt",
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "micro", "embedding"]
    start = time.perf_counter()
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    lines = header("embedding", INPUTS)
    lines += ["command: python -m micro embedding", ""]
    lines += result.stdout.rstrip("\n").split("\n")
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines += [
        "",
        f"wall time: {seconds:.1f}s (whole command, one process); "
        f"cpu time {cpu.ru_utime + cpu.ru_stime:.1f}s",
    ]
    emit("embedding", lines, args.record)


if __name__ == "__main__":
    main()
