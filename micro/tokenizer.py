# Tangled from book/tokenizer.md: edit the chapter, not this file.
"""Byte-level byte-pair encoding (BPE): learn merges of frequent adjacent
tokens from text, then encode any string to ids and decode it back exactly.

Left out on purpose: special tokens, GPT-2's byte-to-printable-character
table (tokens are shown as their bytes), Unicode normalisation, and
parallel or compiled training.
"""

import heapq
import json
import os
import pathlib
import re
import sys
import time
from collections import Counter, defaultdict

from micro.prelude import (
    InputError,
    Progress,
    command,
    load_constitution,
    load_corpus,
    load_docstrings,
    non_negative_int,
    read_text,
    run,
    split,
)


SPLIT_PATTERN = (
    r"'(?:[sdmt]|ll|ve|re)"  # English contractions: 's 't 're 've 'm 'll 'd
    r"| ?[^\W\d_]+"  # a word in any script, with one leading space
    r"| ?\d{1,3}"  # up to three digits
    r"| ?(?:[^\s\w]|_)+"  # punctuation and symbols
    r"|\s+(?!\S)"  # whitespace, leaving one space for the next word
    r"|\s+"  # any other whitespace
)


def chunk_counts(texts, pattern=SPLIT_PATTERN):
    """How often each chunk occurs in a text or an iterable of texts."""
    if isinstance(texts, str):
        texts = [texts]
    split_chunks = re.compile(pattern).findall
    counts = Counter()
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"expected str texts, got {type(text).__name__}")
        counts.update(split_chunks(text))
    return counts


def merge(ids, pair, new_id):
    """ids with every non-overlapping occurrence of pair replaced by new_id."""
    first, second = pair
    out, i, n = [], 0, len(ids)
    while i < n:
        if ids[i] == first and i + 1 < n and ids[i + 1] == second:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def best_pair(pair_counts):
    """The pair to merge next: most frequent, ties to the smallest ids.

    None when no pair occurs at least twice.
    """
    best = min(
        pair_counts.items(), key=lambda kv: (-kv[1], kv[0]), default=None
    )
    if best is None or best[1] < 2:
        return None
    return best[0]


def train_recount(texts, num_merges, pattern=SPLIT_PATTERN):
    """Learn up to num_merges merges, recounting all pairs after each one.

    Slow on purpose: this is the definition. See train for the fast way.
    """
    check_num_merges(num_merges)
    # [n_chunks] of (ids of the chunk, how often the chunk occurs)
    words = [
        (list(chunk.encode("utf-8")), count)
        for chunk, count in chunk_counts(texts, pattern).items()
    ]
    merges = []
    for _ in range(num_merges):
        # Count every adjacent pair, weighted by its chunk's count.
        pair_counts = defaultdict(int)
        for ids, count in words:
            for pair in zip(ids, ids[1:]):
                pair_counts[pair] += count

        # Merge the winner everywhere.
        pair = best_pair(pair_counts)
        if pair is None:
            break
        new_id = 256 + len(merges)
        merges.append(pair)
        words = [(merge(ids, pair, new_id), count) for ids, count in words]
    return Tokenizer(merges, pattern)


def check_num_merges(num_merges):
    if type(num_merges) is not int or num_merges < 0:
        raise ValueError(
            f"num_merges must be a whole number >= 0, got {num_merges!r}"
        )


class Tokenizer:
    """A trained byte-level BPE: merges[i] = (a, b) made token 256 + i."""

    def __init__(self, merges, pattern=SPLIT_PATTERN):
        self.merges = [tuple(pair) for pair in merges]
        self.pattern = pattern
        compiled = re.compile(pattern)
        if compiled.groups:
            # note: findall would return only the groups and lose text.
            raise ValueError("the split pattern must not have groups")
        self._split = compiled.findall
        self.rank = {}  # pair -> the token it became
        # [vocab_size] the bytes each token stands for
        self.vocab = [bytes([i]) for i in range(256)]
        for new_id, (a, b) in enumerate(self.merges, start=256):
            if type(a) is not int or type(b) is not int or min(a, b) < 0:
                raise ValueError(
                    f"merge {new_id - 256} is {(a, b)!r}; "
                    "token ids are whole numbers >= 0"
                )
            if not (a < new_id and b < new_id):
                raise ValueError(
                    f"merge {new_id - 256} uses ({a}, {b}) "
                    f"before token {max(a, b)} exists"
                )
            if (a, b) in self.rank:
                raise ValueError(f"merge {new_id - 256} repeats ({a}, {b})")
            self.rank[(a, b)] = new_id
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self._cache = {}  # chunk -> its ids; encoding repeats chunks a lot

    def __len__(self):
        return len(self.vocab)

    def encode_chunk(self, chunk):
        ids = list(chunk.encode("utf-8"))
        while len(ids) > 1:
            # The earliest-learned pair present goes first.
            pair = min(
                zip(ids, ids[1:]), key=lambda p: self.rank.get(p, sys.maxsize)
            )
            if pair not in self.rank:
                break
            ids = merge(ids, pair, self.rank[pair])
        return ids

    def encode(self, text):
        """The token ids of text (a str)."""
        if not isinstance(text, str):
            raise TypeError(f"encode takes str, got {type(text).__name__}")
        ids, covered = [], 0
        for chunk in self._split(text):
            covered += len(chunk)
            if chunk not in self._cache:
                if len(self._cache) > 100_000:
                    self._cache.clear()
                self._cache[chunk] = self.encode_chunk(chunk)
            ids.extend(self._cache[chunk])
        if covered != len(text):
            raise ValueError(
                "the split pattern skips part of the text, so "
                "it could not be decoded back; fix the pattern"
            )
        return ids

    def decode_bytes(self, ids):
        """The exact bytes the token ids stand for."""
        ids = list(ids)  # note: a one-shot iterator is read only once
        size = len(self.vocab)
        for i in ids:
            if type(i) is not int or not 0 <= i < size:
                raise ValueError(
                    f"token id {i!r} is not in the vocabulary (0..{size - 1})"
                )
        return b"".join(self.vocab[i] for i in ids)

    def decode(self, ids):
        """Text of the ids; incomplete UTF-8 sequences become U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def piece(self, i):
        """A token for display: its text, or its bytes in hex if partial."""
        data = self.decode_bytes([i])
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return "<" + " ".join(f"{b:02x}" for b in data) + ">"

    def truncated(self, num_merges):
        """The tokenizer that training with num_merges merges would give."""
        check_num_merges(num_merges)
        return Tokenizer(self.merges[:num_merges], self.pattern)

    def save(self, path):
        """Write the tokenizer to path atomically (see load for the format)."""
        lines = [
            "micro-bpe 1",
            f"pattern {json.dumps(self.pattern)}",
            f"merges {len(self.merges)}",
        ]
        lines += [f"{a} {b}" for a, b in self.merges]
        path = pathlib.Path(path)
        if not path.name or path.is_dir():
            raise ValueError(f"{path}: not a file name to save to")
        # note: a new file (mode "x") gets the usual permissions (umask);
        # the rename is atomic, so readers see the old file or the new one.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "x", encoding="utf-8", newline="\n") as f:
                f.write("\n".join(lines) + "\n")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path):
        """Read a tokenizer saved by save; InputError names what is wrong."""
        lines = read_text(path).splitlines()

        def fail(number, message):
            raise InputError(f"{path}:{number}: {message}")

        if lines[0] != "micro-bpe 1":
            fail(1, "not a micro BPE file (expected 'micro-bpe 1')")
        if len(lines) < 3:
            fail(len(lines), "file ends before the merge count")
        if not lines[1].startswith("pattern "):
            fail(2, "expected 'pattern <JSON string>'")
        try:
            pattern = json.loads(lines[1].removeprefix("pattern "))
            re.compile(pattern)
        except (ValueError, re.error, TypeError) as error:
            fail(2, f"bad pattern ({error})")
        if not isinstance(pattern, str):
            fail(2, "the pattern must be a JSON string")
        count = lines[2].removeprefix("merges ")
        if not lines[2].startswith("merges ") or not is_number(count):
            fail(3, "expected 'merges <count>'")
        if len(lines) - 3 != int(count):
            fail(
                len(lines),
                f"the header promises {count} merges, the "
                f"file holds {len(lines) - 3}: truncated or corrupted",
            )

        # Each merge may only use tokens that exist before it.
        merges = []
        for number, line in enumerate(lines[3:], start=4):
            parts = line.split(" ")
            if len(parts) != 2 or not all(map(is_number, parts)):
                fail(number, f"expected two token ids, got {line!r}")
            a, b = int(parts[0]), int(parts[1])
            if max(a, b) >= 256 + len(merges):
                fail(
                    number,
                    f"merge ({a}, {b}) uses a token that does not exist yet",
                )
            merges.append((a, b))
        try:
            return cls(merges, pattern)
        except ValueError as error:
            raise InputError(f"{path}: {error}") from None


def is_number(text):
    """True for a plain decimal number such as '256' (not '²' or '-1')."""
    return text.isascii() and text.isdigit()


def train(texts, num_merges, pattern=SPLIT_PATTERN, progress=None):
    """Learn up to num_merges merges, updating pair counts incrementally.

    Learns exactly what train_recount learns. progress, if given, is a
    prelude.Progress that gets a line with the training text's token count.
    """
    check_num_merges(num_merges)
    counts = chunk_counts(texts, pattern)
    words = [list(chunk.encode("utf-8")) for chunk in counts]  # [n_chunks]
    freq = list(counts.values())  # [n_chunks]
    tokens = sum(len(ids) * n for ids, n in zip(words, freq))

    # Count every pair once, remembering which chunks hold it.
    pair_counts = defaultdict(int)
    where = defaultdict(set)
    for w, ids in enumerate(words):
        for pair in zip(ids, ids[1:]):
            pair_counts[pair] += freq[w]
            where[pair].add(w)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    merges = []
    while len(merges) < num_merges and heap:
        # Pop the best pair, skipping entries left behind by updates.
        neg_count, pair = heapq.heappop(heap)
        if pair_counts.get(pair) != -neg_count:
            continue
        if -neg_count < 2:
            break
        new_id = 256 + len(merges)
        merges.append(pair)

        # Re-count only the chunks that contain the pair.
        touched = set()
        for w in where.pop(pair):
            old, new = words[w], merge(words[w], pair, new_id)
            for p in zip(old, old[1:]):
                pair_counts[p] -= freq[w]
            for p in zip(new, new[1:]):
                pair_counts[p] += freq[w]
                where[p].add(w)
            touched.update(zip(old, old[1:]))
            touched.update(zip(new, new[1:]))
            tokens -= (len(old) - len(new)) * freq[w]
            words[w] = new

        # Push the new counts; forget pairs that no longer occur.
        del pair_counts[pair]
        touched.discard(pair)
        for p in touched:
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
            else:
                del pair_counts[p]
        if progress is not None:
            progress.log(len(merges), tokens=tokens)
    if progress is not None:
        progress.end(len(merges), tokens=tokens)
    return Tokenizer(merges, pattern)


def bytes_per_token(tokenizer, docs):
    """Bytes of UTF-8 per token over a list of documents."""
    n_bytes = sum(len(doc.encode("utf-8")) for doc in docs)
    n_tokens = sum(len(tokenizer.encode(doc)) for doc in docs)
    if n_tokens == 0:
        raise ValueError("no text to measure")
    return n_bytes / n_tokens


def corpus():
    """(training docs, held-out English docs, held-out Korean docs)."""
    en_train, en_val = split(load_docstrings())
    ko_train, ko_val = split(load_constitution())
    return en_train + ko_train, en_val, ko_val


EXAMPLES = (
    ("English", "Return the number of items in the container."),
    ("Korean", "대한민국은 민주공화국이다."),
)


def show(tok, text):
    ids = tok.encode(text)
    pieces = "|".join(tok.piece(i) for i in ids)
    return (
        f"{len(text.encode('utf-8'))} bytes -> {len(ids)} tokens: |{pieces}|"
    )


def report(train_docs, heldout, num_merges, out=None):
    """Train, then print the compression table and example encodings."""
    out = out or sys.stdout
    n_bytes = sum(len(d.encode("utf-8")) for d in train_docs)
    sizes = ", ".join(
        f"{name} {sum(len(d.encode('utf-8')) for d in docs):,} bytes"
        for name, docs in heldout.items()
    )
    print(
        f"training text: {len(train_docs):,} documents, {n_bytes:,} bytes;"
        f" held out: {sizes}",
        file=out,
    )
    print(
        f"base vocabulary 256 bytes; asking for {num_merges:,} merges",
        file=out,
    )

    start = time.perf_counter()
    tok = train(train_docs, num_merges, progress=Progress(num_merges, out=out))
    seconds = time.perf_counter() - start
    stop = (
        ""
        if len(tok.merges) == num_merges
        else (" (no pair occurs twice after that)")
    )
    print(
        f"learned {len(tok.merges):,} merges{stop} in {seconds:.1f}s; "
        f"vocabulary {len(tok):,} tokens",
        file=out,
    )

    # Compression for a few vocabulary sizes, from one training run.
    names = list(heldout)
    print("held-out bytes per token:", file=out)
    print("  merges  vocab" + "".join(f"{n:>9}" for n in names), file=out)
    steps = sorted(
        {k for k in (0, 100, 250, 500, 1000) if k < len(tok.merges)}
        | {len(tok.merges)}
    )
    for k in steps:
        small = tok.truncated(k)
        figures = "".join(
            f"{bytes_per_token(small, heldout[n]):>9.3f}" for n in names
        )
        print(f"  {k:>6} {len(small):>6}{figures}", file=out)
    return tok


def check_save_path(path):
    """InputError unless path names a file that can be written."""
    path = pathlib.Path(path)
    if not path.name or path.is_dir():
        raise InputError(f"{path}: not a file name to save to")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InputError(f"{path}: folder {folder} is not writable")


def main(argv=None, prog="python -m micro tokenizer"):
    parser = command(
        prog,
        "Train a byte-level BPE tokenizer and report its compression.",
        data="a UTF-8 text file to train on (default: the bundled corpus)",
        seed=False,
    )
    parser.add_argument(
        "--merges",
        "--steps",
        type=non_negative_int,
        default=1000,
        help="merges to learn (default 1000)",
    )
    parser.add_argument(
        "--save", metavar="PATH", help="write the trained tokenizer to PATH"
    )

    def body(args):
        if args.save is not None:
            check_save_path(args.save)  # before training, not after
        if args.data is None:
            train_docs, en_val, ko_val = corpus()
            heldout = {"English": en_val, "Korean": ko_val}
        else:
            try:
                train_docs, val = split(load_corpus(args.data))
            except InputError as error:
                raise InputError(f"{args.data}: {error}") from None
            heldout = {"text": val}
        tok = report(train_docs, heldout, args.merges)
        if args.data is None:
            print("examples:")
            for name, text in EXAMPLES:
                print(f"  {name}: {show(tok, text)}")
        if args.save is not None:
            try:
                tok.save(args.save)
            except OSError as error:
                raise InputError(
                    f"{args.save}: cannot write ({error.strerror})"
                ) from None
            print(f"saved to {args.save}")

    return run(parser, argv, body)
