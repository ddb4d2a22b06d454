"""Running the command line the way a reader does, for the CLI tests."""

import os
import pathlib
import subprocess
import sys


ROOT = pathlib.Path(__file__).resolve().parent.parent


def run_micro(*args, **kwargs):
    """`python -m micro ARGS` from the repository root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "micro", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def assert_usage_error(result, chapter, *needles):
    """Exit 2, a usage line, and one error line holding every needle."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"usage: python -m micro {chapter}")
    assert lines[-1].startswith(f"python -m micro {chapter}: error: ")
    for needle in needles:
        assert needle in lines[-1]


def python_output(script, hash_seed):
    """stdout of `python -c script` under the given PYTHONHASHSEED."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
    )
    return result.stdout
