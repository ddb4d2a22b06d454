"""Byte-level BPE: micro's two trainers and Hugging Face `tokenizers`.

    python -m benchmarks.tokenizer [--merges N] [--repeat R] [--record]

Trains on the book's training corpus (micro.tokenizer.corpus) with the same
number of merges three ways: micro's recounting trainer (once: it is slow),
micro's incremental trainer and the library (best of R runs each, one
thread). Prints training time and held-out bytes per token for each, and
checks that micro's two trainers learned identical merges.
"""

import argparse
import os
import time


# One thread for the library, so the comparison is core for core.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_NUM_THREADS", "1")

from benchmarks.common import emit, header  # noqa: E402
from micro.tokenizer import (  # noqa: E402
    bytes_per_token,
    corpus,
    train,
    train_recount,
)


INPUTS = [
    "micro/tokenizer.py",
    "micro/prelude.py",
    "micro/data/docstrings.txt",
    "micro/data/constitution_ko.txt",
]


def timed(fn, repeat):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def library_bpe(docs, merges):
    """Hugging Face byte-level BPE set up like micro's: 256 bytes + merges."""
    import tokenizers
    from tokenizers import models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=256 + merges,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer)
    return tok


class LibraryTokens:
    """Adapter so bytes_per_token can measure the library's tokenizer."""

    def __init__(self, tok):
        self.tok = tok

    def encode(self, text):
        return self.tok.encode(text).ids


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tokenizer")
    parser.add_argument("--merges", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--record",
        action="store_true",
        help="also write benchmarks/results/tokenizer.txt",
    )
    args = parser.parse_args()
    import tokenizers

    train_docs, en_val, ko_val = corpus()
    n_bytes = sum(len(d.encode("utf-8")) for d in train_docs)

    slow_s, slow = timed(lambda: train_recount(train_docs, args.merges), 1)
    fast_s, fast = timed(lambda: train(train_docs, args.merges), args.repeat)
    lib_s, lib = timed(
        lambda: library_bpe(train_docs, args.merges), args.repeat
    )
    lib_vocab = lib.get_vocab_size()

    rows = [
        ("micro train_recount", slow_s, slow),
        ("micro train (incremental)", fast_s, fast),
        (
            f"tokenizers {tokenizers.__version__} (1 thread)",
            lib_s,
            LibraryTokens(lib),
        ),
    ]
    figures = {
        name: (bytes_per_token(tok, en_val), bytes_per_token(tok, ko_val))
        for name, _, tok in rows
    }
    micro_en, micro_ko = figures[rows[1][0]]
    lib_en, lib_ko = figures[rows[2][0]]

    lines = header("tokenizer", INPUTS)
    lines += [
        f"training text: {len(train_docs):,} documents, {n_bytes:,} bytes; "
        f"{args.merges:,} merges (library vocabulary {lib_vocab:,} = 256 + "
        f"{lib_vocab - 256:,})",
        "",
        f"{'trainer':<34}{'seconds':>9}{'English B/tok':>15}"
        f"{'Korean B/tok':>14}",
    ]
    for name, seconds, _ in rows:
        en, ko = figures[name]
        lines.append(f"{name:<34}{seconds:>9.2f}{en:>15.3f}{ko:>14.3f}")
    lines += [
        "",
        f"incremental vs recount: {slow_s / fast_s:.1f}x faster; identical "
        f"merges: {'yes' if fast.merges == slow.merges else 'NO'}",
        f"library vs micro incremental: {fast_s / lib_s:.1f}x faster",
        f"micro held-out bytes per token as a share of the library's: "
        f"English {micro_en / lib_en:.1%}, Korean {micro_ko / lib_ko:.1%}",
    ]
    emit("tokenizer", lines, args.record)


if __name__ == "__main__":
    main()
