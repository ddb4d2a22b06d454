# Tangled from book/prelude.md: edit the chapter, not this file.
"""The shared ground of the book: bundled data, a fixed validation split,
the count-based bigram yardstick, the progress line and command-line helpers.

Left out on purpose: downloading (the data ships with the package), units
other than characters (see the tokenizer chapter), and smoothing beyond
add-alpha.
"""

import argparse
import hashlib
import math
import pathlib
import random
import sys
import time


DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"


class InputError(ValueError):
    """Input the program cannot use; the message says what is wrong."""


def read_text(path):
    """The text of a UTF-8 file, or an InputError that names the problem."""
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None

    # Decode strictly: guessing another encoding would be silent garbage.
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: not UTF-8 text (byte {error.start} is "
            f"{data[error.start]:#04x})"
        ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    return text


def read_lines(path):
    """The non-blank lines of a UTF-8 file, stripped: one item per line."""
    return [
        line.strip() for line in read_text(path).splitlines() if line.strip()
    ]


def documents(text):
    """Split a text into documents: blank-line paragraphs, else lines."""
    # Blank lines at the very start or end separate nothing.
    lines = [line.rstrip() for line in text.strip("\r\n").splitlines()]
    if not any(line.strip() == "" for line in lines):
        return [line.strip() for line in lines if line.strip()]
    docs, current = [], []
    for line in lines + [""]:
        if line.strip():
            current.append(line)
        elif current:
            docs.append("\n".join(current))
            current = []
    return docs


def load_names(path=None):
    """Names, one per line: the bundled census list unless path is given."""
    return read_lines(DATA_DIR / "names.txt" if path is None else path)


def load_corpus(path):
    """The documents of a UTF-8 text file (see documents)."""
    return documents(read_text(path))


def load_docstrings():
    """English prose: the docstrings of Python's standard library."""
    return load_corpus(DATA_DIR / "docstrings.txt")


def load_constitution():
    """Korean prose: the Constitution of the Republic of Korea."""
    return load_corpus(DATA_DIR / "constitution_ko.txt")


def _unit_hash(item):
    digest = hashlib.sha256(item.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split(items, val_fraction=0.1):
    """Split items into (train, validation) by a hash of each item."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    items = list(items)
    score = {item: _unit_hash(item) for item in items}
    if len(score) < 2:
        raise InputError(
            "need at least two different items (lines or documents) to "
            f"make a training and a validation split, got {len(score)}"
        )
    val = [item for item in items if score[item] < val_fraction]
    # note: a tiny input may put nothing below the threshold (then the
    # lowest-hashing item alone is held out) or everything (then the
    # highest-hashing item alone is kept for training).
    if not val:
        low = min(score.values())
        val = [item for item in items if score[item] == low]
    if len(set(val)) == len(score):
        high = max(score.values())
        val = [item for item in items if score[item] != high]
    held_out = set(val)
    train = [item for item in items if item not in held_out]
    return train, val


BOUNDARY = 0
UNKNOWN = 1


class Vocab:
    """Characters to ids: 0 is the boundary, 1 is any unseen character."""

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        self.index = {c: i for i, c in enumerate(self.chars, start=2)}

    @classmethod
    def from_items(cls, items):
        return cls(c for item in items for c in item)

    def __len__(self):
        return len(self.chars) + 2

    def encode(self, item):
        """[BOUNDARY, id of each character..., BOUNDARY]."""
        ids = [self.index.get(c, UNKNOWN) for c in item]
        return [BOUNDARY, *ids, BOUNDARY]

    def decode(self, ids):
        """The characters of ids, without boundaries; unknown shows as ?."""
        return "".join(self.symbol(i) for i in ids if i != BOUNDARY)

    def symbol(self, i):
        if not 0 <= i < len(self):
            raise ValueError(
                f"id {i} is not in the vocabulary (0..{len(self) - 1})"
            )
        if i == BOUNDARY:
            return "."
        if i == UNKNOWN:
            return "?"
        return self.chars[i - 2]


class Bigram:
    """Count-based next-character model with add-alpha smoothing."""

    def __init__(self, vocab_size, alpha=1.0):
        if not 0 <= alpha < math.inf:  # note: also rejects nan
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.vocab_size = vocab_size
        self.alpha = alpha
        # [vocab_size][vocab_size]: counts[a][b] = times b followed a
        self.counts = [[0] * vocab_size for _ in range(vocab_size)]

    def fit(self, sequences):
        for ids in sequences:
            for a, b in zip(ids, ids[1:]):
                self.counts[a][b] += 1
        return self

    def prob(self, a, b):
        row = self.counts[a]
        total = sum(row) + self.alpha * self.vocab_size
        return (row[b] + self.alpha) / total if total else 0.0


def mean_nll(token_losses, sequences):
    """Mean negative log-likelihood (nats) per predicted token.

    token_losses(ids) must return -log p(ids[t] | ids[:t]) for every
    t >= 1, that is len(ids) - 1 numbers.
    """
    total, count = 0.0, 0
    for ids in sequences:
        losses = token_losses(ids)
        if len(losses) != len(ids) - 1:
            raise ValueError(
                f"token_losses returned {len(losses)} losses for a "
                f"sequence of {len(ids)} tokens; expected {len(ids) - 1}"
            )
        total += math.fsum(losses)
        count += len(losses)
        if not math.isfinite(total):
            raise ValueError("token_losses returned a loss that is not finite")
    if count == 0:
        raise ValueError("no tokens to score")
    return total / count


def bigram_losses(model, vocab=None):
    """token_losses for mean_nll from a fitted Bigram."""

    def losses(ids):
        out = []
        for a, b in zip(ids, ids[1:]):
            p = model.prob(a, b)
            if p == 0.0:
                pair = (
                    (a, b)
                    if vocab is None
                    else (vocab.symbol(a), vocab.symbol(b))
                )
                raise ValueError(
                    f"the unsmoothed bigram gives probability 0 to {pair}; "
                    "use alpha > 0 to score unseen pairs"
                )
            out.append(-math.log(p))
        return out

    return losses


def bigram_baseline(train, val, vocab=None):
    """Losses of the count bigram: {'train_mle', 'train', 'val'} in nats."""
    vocab = vocab or Vocab.from_items(train)
    train_ids = [vocab.encode(item) for item in train]
    val_ids = [vocab.encode(item) for item in val]
    mle = Bigram(len(vocab), alpha=0).fit(train_ids)
    add_one = Bigram(len(vocab), alpha=1).fit(train_ids)
    return {
        "train_mle": mean_nll(bigram_losses(mle, vocab), train_ids),
        "train": mean_nll(bigram_losses(add_one, vocab), train_ids),
        "val": mean_nll(bigram_losses(add_one, vocab), val_ids),
    }


def bigram_sample(model, vocab, rng, max_len=30):
    """One name drawn from a fitted Bigram with random.Random rng."""
    a, out = BOUNDARY, []
    symbols = [i for i in range(len(vocab)) if i != UNKNOWN]
    for _ in range(max_len):
        weights = [model.prob(a, b) for b in symbols]
        if not any(weights):
            break
        a = rng.choices(symbols, weights)[0]
        if a == BOUNDARY:
            break
        out.append(a)
    return vocab.decode(out)


class Progress:
    """Prints 'step  100/1000 | loss 2.3012 | 4.2s' lines as training runs."""

    def __init__(self, total, every=None, out=None, clock=time.perf_counter):
        self.total = total
        self.every = every or max(1, total // 10)
        self.out = out
        self.clock = clock
        self.start = clock()
        self.last = None  # the step of the last line printed

    def due(self, step):
        return step == 1 or step == self.total or step % self.every == 0

    def line(self, step, **metrics):
        width = len(str(self.total))
        parts = [f"step {step:>{width}}/{self.total}"]
        for name, value in metrics.items():
            shown = f"{value:.4f}" if isinstance(value, float) else value
            parts.append(f"{name} {shown}")
        parts.append(f"{self.clock() - self.start:.1f}s")
        return " | ".join(parts)

    def log(self, step, **metrics):
        """Print the line for step if it is due."""
        if self.due(step):
            self._print(step, metrics)

    def end(self, step, **metrics):
        """Print the last line of a run that may stop early, if not yet."""
        if self.last != step:
            self._print(step, metrics)

    def _print(self, step, metrics):
        self.last = step
        print(
            self.line(step, **metrics), file=self.out or sys.stdout, flush=True
        )


def positive_int(text):
    """argparse type: an integer >= 1."""
    return _whole_number(text, least=1)


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    return _whole_number(text, least=0)


def positive_float(text):
    """argparse type: a finite number > 0 (a learning rate, a temperature)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number, got {text!r}"
        ) from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"must be a finite number > 0, got {text}"
        )
    return value


def _whole_number(text, least):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got {text!r}"
        ) from None
    if value < least:
        raise argparse.ArgumentTypeError(
            f"must be at least {least}, got {value}"
        )
    return value


def command(prog, description, data=None, seed=True):
    """An ArgumentParser with the shared options of the book's chapters.

    data, if given, is the help text of --data PATH.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    if seed:
        parser.add_argument(
            "--seed",
            type=non_negative_int,
            default=0,
            help="seed of every random choice (default 0)",
        )
    if data:
        parser.add_argument("--data", metavar="PATH", help=data)
    return parser


def run(parser, argv, body):
    """Parse argv and call body(args); bad input exits with status 2."""
    args = parser.parse_args(argv)
    try:
        body(args)
    except InputError as error:
        parser.error(str(error))
    return 0


def report(names, seed=0, samples=10, out=None):
    """Print data sizes, the bigram yardstick and a few samples."""
    out = out or sys.stdout
    train, val = split(names)
    vocab = Vocab.from_items(train)
    print(
        f"names: {len(names):,} ({len(train):,} train, {len(val):,} "
        f"validation); vocabulary {len(vocab)} symbols "
        f"({len(vocab.chars)} characters + boundary + unknown)",
        file=out,
    )

    losses = bigram_baseline(train, val, vocab)
    print("count bigram, nats per character (end of name included):", file=out)
    print(f"  unsmoothed  train {losses['train_mle']:.4f}", file=out)
    print(
        f"  add-one     train {losses['train']:.4f} | val {losses['val']:.4f}",
        file=out,
    )

    model = Bigram(len(vocab)).fit(vocab.encode(name) for name in train)
    rng = random.Random(seed)
    drawn = [bigram_sample(model, vocab, rng) for _ in range(samples)]
    print(f"samples (seed {seed}): {drawn}", file=out)


def main(argv=None, prog="python -m micro prelude"):
    parser = command(
        prog,
        "The book's data and the count-bigram yardstick.",
        data="a UTF-8 file with one name per line (default: census names)",
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        default=10,
        help="how many names to sample (default 10)",
    )

    def body(args):
        report(load_names(args.data), seed=args.seed, samples=args.samples)
        if args.data is None:
            docs, ko = load_docstrings(), load_constitution()
            print(
                f"prose: {len(docs):,} English docstrings "
                f"({sum(len(d.encode()) for d in docs):,} bytes), "
                f"{len(ko):,} lines of the Korean constitution "
                f"({sum(len(d.encode()) for d in ko):,} bytes)"
            )

    return run(parser, argv, body)
