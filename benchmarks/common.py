"""What every benchmark records: the machine and its inputs' fingerprint."""

import datetime
import hashlib
import os
import pathlib
import platform
import sys


ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def cpu_model():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine():
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}"
    )


def fingerprint(paths):
    """SHA-256 (first 16 hex digits) over the given files, in order."""
    digest = hashlib.sha256()
    for path in paths:
        path = ROOT / path
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def header(name, inputs):
    return [
        f"benchmark: {name}",
        f"machine: {machine()}",
        f"date: {datetime.date.today().isoformat()}",
        f"fingerprint: {fingerprint(inputs)} (of {', '.join(inputs)})",
    ]


def emit(name, lines, record):
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if record:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{name}.txt").write_text(text, encoding="utf-8")
