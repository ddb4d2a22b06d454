"""Recorded benchmark output: current for the code it measured, on target.

The book shows these files; the figures come from running the benchmark
(see benchmarks/), never from typing them in. If a fingerprint test fails,
the measured code or data changed: run the benchmark again with --record.
"""

import re

import pytest

from benchmarks import common, tokenizer


def recorded(name):
    path = common.RESULTS / f"{name}.txt"
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name, module", [("tokenizer", tokenizer)])
def test_recording_is_current(name, module):
    text = recorded(name)
    match = re.search(r"^fingerprint: (\w+) ", text, re.M)
    assert match, "no fingerprint line"
    assert match[1] == common.fingerprint(module.INPUTS), (
        f"benchmarks/results/{name}.txt measured other code or data: "
        f"re-run python -m benchmarks.{name} --record"
    )
    assert re.search(r"^machine: .+ cores", text, re.M)


def test_tokenizer_targets():
    text = recorded("tokenizer")
    speedup = float(re.search(r"incremental vs recount: ([\d.]+)x", text)[1])
    assert speedup >= 10
    assert "identical merges: yes" in text
    seconds = float(
        re.search(r"^micro train \(incremental\)\s+([\d.]+)", text, re.M)[1]
    )
    assert seconds <= 10
    n_bytes = int(
        re.search(r"documents, ([\d,]+) bytes", text)[1].replace(",", "")
    )
    assert n_bytes >= 1_000_000
    shares = re.search(r"English ([\d.]+)%, Korean ([\d.]+)%", text)
    assert float(shares[1]) >= 98 and float(shares[2]) >= 98
