# Tangled from book/gpt.md: edit the chapter, not this file.
"""A character-level GPT on the autograd engine: token and position
embeddings, causal multi-head self-attention, RMSNorm, an MLP, residual
connections, Adam with warmup and cosine decay, a key/value cache for
sampling, and a checked text format for the weights.

Left out on purpose: size (a few thousand scalar weights), dropout, weight
decay, gradient clipping, a learned gain in RMSNorm, batched tensors.
"""

import argparse
import hashlib
import json
import math
import operator
import os
import pathlib
import random
import sys
import time

from micro.autograd import (
    Value,
    cross_entropy,
    dot,
    gc_off,
    linear,
    linear_unfused,
    softmax,
    total,
)
from micro.optim import Adam, WarmupCosine
from micro.prelude import (
    BOUNDARY,
    UNKNOWN,
    InputError,
    Progress,
    Vocab,
    bigram_baseline,
    command,
    load_names,
    mean_nll,
    positive_int,
    read_text,
    run,
    split,
)
from micro.tokenizer import check_save_path


MAX_SIZE = 100_000  # far above any model a scalar engine can train


class Config:
    """The sizes of a GPT; every field is a whole number in [1, MAX_SIZE]."""

    FIELDS = (
        "vocab_size",
        "n_embd",
        "n_head",
        "n_layer",
        "n_hidden",
        "block_size",
    )

    def __init__(
        self,
        vocab_size,
        n_embd=16,
        n_head=4,
        n_layer=1,
        n_hidden=64,
        block_size=16,
    ):
        values = (vocab_size, n_embd, n_head, n_layer, n_hidden, block_size)
        for name, value in zip(self.FIELDS, values):
            if type(value) is not int or not 1 <= value <= MAX_SIZE:
                raise ValueError(
                    f"{name} must be a whole number in [1, {MAX_SIZE:,}], "
                    f"got {value!r}"
                )
            setattr(self, name, value)
        if n_embd % n_head:
            raise ValueError(
                f"n_embd ({n_embd}) must be a multiple of n_head ({n_head})"
            )
        self.head_size = n_embd // n_head

    def __eq__(self, other):
        return isinstance(other, Config) and all(
            getattr(self, f) == getattr(other, f) for f in self.FIELDS
        )

    def shapes(self):
        """(name, shape) of every weight, in a fixed order."""
        return list(self.iter_shapes())

    def iter_shapes(self):
        """The same, one at a time: for reading a file that may lie."""
        V, C, T = self.vocab_size, self.n_embd, self.block_size
        yield from [("wte", (V, C)), ("wpe", (T, C))]
        for layer in range(self.n_layer):
            yield from self.block_shapes(layer)
        yield from [("W_out", (V, C)), ("b_out", (V,))]

    def block_shapes(self, layer):
        """(name, shape) of the weights of one layer."""
        C, H = self.n_embd, self.n_hidden
        shapes = []
        for name, n_out, n_in in [
            ("q", C, C),
            ("k", C, C),
            ("v", C, C),
            ("o", C, C),
            ("1", H, C),
            ("2", C, H),
        ]:
            shapes.append((f"{layer}.W_{name}", (n_out, n_in)))
            shapes.append((f"{layer}.b_{name}", (n_out,)))
        return shapes

    def n_params(self):
        return sum(math.prod(shape) for _, shape in self.shapes())


def init_std(name, n_in):
    """Standard deviation of the starting weights of the matrix name."""
    if name in ("wte", "wpe"):
        return 1.0
    if name == "W_out":
        return 0.0
    if name.endswith(("W_o", "W_2")):  # they write into the residual
        return 0.5 / math.sqrt(n_in)
    return 1.0 / math.sqrt(n_in)


def init_weights(config, rng):
    """{name: [n_out][n_in] or [n_out] Values}; biases start at 0."""
    weights = {}
    for name, shape in config.shapes():
        if len(shape) == 1:
            weights[name] = [Value(0.0) for _ in range(shape[0])]
            continue
        n_out, n_in = shape
        std = init_std(name, n_in)
        weights[name] = [
            [Value(rng.gauss(0.0, std)) for _ in range(n_in)]
            for _ in range(n_out)
        ]
    return weights


def flat(tensor):
    """The numbers of a [n] or [n_out][n_in] list, row by row."""
    if tensor and isinstance(tensor[0], list):
        return [x for row in tensor for x in row]
    return list(tensor)


class GPT:
    def __init__(self, config, vocab, weights):
        if config.vocab_size != len(vocab):
            raise ValueError(
                f"vocab_size is {config.vocab_size} but the vocabulary "
                f"has {len(vocab)} symbols"
            )
        self.config, self.vocab, self.weights = config, vocab, weights

    @classmethod
    def new(cls, vocab, seed=0, **sizes):
        """A freshly initialised model; sizes are Config's fields."""
        config = Config(len(vocab), **sizes)
        return cls(config, vocab, init_weights(config, random.Random(seed)))

    def parameters(self):
        return [
            p
            for name, _ in self.config.shapes()
            for p in self.parameters_of(name)
        ]

    def parameters_of(self, name):
        return flat(self.weights[name])

    def floats(self):
        """The weights as plain floats: {name: [n_out][n_in] or [n_out]}."""
        out = {}
        for name, w in self.weights.items():
            if w and isinstance(w[0], list):
                out[name] = [[v.data for v in row] for row in w]
            else:
                out[name] = [v.data for v in w]
        return out


def float_dot(w, x):
    return sum(map(operator.mul, w, x))


def float_linear(W, x, b):
    # W: [n_out][n_in], x: [n_in], b: [n_out] -> [n_out]
    return [sum(map(operator.mul, W_i, x)) + b_i for W_i, b_i in zip(W, b)]


def float_softmax(z):
    """exp(z_i - max z) / sum: finite for any finite z."""
    m = max(z)
    e = [math.exp(z_i - m) for z_i in z]
    s = sum(e)
    return [e_i / s for e_i in e]


class Ops:
    """The operations the model is written in, for one engine."""

    def __init__(self, name, linear, dot, softmax, relu):
        self.name = name
        self.linear = linear  # (W, x, b) -> W x + b
        self.dot = dot  # (w, x) -> w . x
        self.softmax = softmax  # z -> probabilities
        self.relu = relu  # x -> max(0, x)


GRAD = Ops("fused", linear, dot, softmax, lambda x: x.relu())
GRAD_UNFUSED = Ops(
    "per multiply", linear_unfused, dot, softmax, lambda x: x.relu()
)
FLOAT = Ops(
    "float", float_linear, float_dot, float_softmax, lambda x: max(x, 0.0)
)


EPS = 1e-5  # keeps the division finite for an all-zero vector


def rmsnorm(x, ops):
    # x: [n_embd] -> [n_embd]
    ms = ops.dot(x, x) / len(x)
    s = (ms + EPS) ** -0.5
    return [x_i * s for x_i in x]


class Cache:
    """Keys, values and attention weights of the positions so far."""

    def __init__(self, n_layer):
        self.keys = [[] for _ in range(n_layer)]  # [n_layer][t][n_embd]
        self.values = [[] for _ in range(n_layer)]  # [n_layer][t][n_embd]
        # [n_layer][t][n_head][t + 1]: a_ts of every head, for display
        self.weights = [[] for _ in range(n_layer)]

    def __len__(self):
        return len(self.keys[0])


def attention(config, w, ops, layer, x, cache):
    """The layer's attention for the newest position; x: [n_embd]."""
    h = rmsnorm(x, ops)
    q = ops.linear(w[f"{layer}.W_q"], h, w[f"{layer}.b_q"])  # [n_embd]
    cache.keys[layer].append(
        ops.linear(w[f"{layer}.W_k"], h, w[f"{layer}.b_k"])
    )
    cache.values[layer].append(
        ops.linear(w[f"{layer}.W_v"], h, w[f"{layer}.b_v"])
    )
    keys, values = cache.keys[layer], cache.values[layer]  # [t + 1][n_embd]

    # One head per slice of d numbers.
    d = config.head_size
    scale = 1.0 / math.sqrt(d)
    o, weights = [], []  # o: [n_embd], weights: [n_head][t + 1]
    for i in range(0, config.n_embd, d):
        q_i = q[i : i + d]
        scores = [ops.dot(q_i, k_s[i : i + d]) * scale for k_s in keys]
        a = ops.softmax(scores)
        weights.append(a)
        for j in range(i, i + d):
            o.append(ops.dot(a, [v_s[j] for v_s in values]))
    cache.weights[layer].append(weights)
    return ops.linear(w[f"{layer}.W_o"], o, w[f"{layer}.b_o"])


def mlp(config, w, ops, layer, x):
    """The layer's MLP; x: [n_embd] -> [n_embd]."""
    h = rmsnorm(x, ops)
    u = ops.linear(w[f"{layer}.W_1"], h, w[f"{layer}.b_1"])  # [n_hidden]
    u = [ops.relu(u_i) for u_i in u]
    return ops.linear(w[f"{layer}.W_2"], u, w[f"{layer}.b_2"])


def step(config, w, ops, token, cache):
    """Logits [vocab_size] for the symbol after token, at len(cache)."""
    t = len(cache)
    if t >= config.block_size:
        raise ValueError(
            f"position {t} is past the window of {config.block_size}"
        )
    x = [e + p for e, p in zip(w["wte"][token], w["wpe"][t])]  # [n_embd]
    for layer in range(config.n_layer):
        a = attention(config, w, ops, layer, x, cache)
        x = [x_i + a_i for x_i, a_i in zip(x, a)]
        m = mlp(config, w, ops, layer, x)
        x = [x_i + m_i for x_i, m_i in zip(x, m)]
    h = rmsnorm(x, ops)
    return ops.linear(w["W_out"], h, w["b_out"])


def sequence_losses(model, ids, ops=GRAD):
    """Cross-entropy nodes predicting ids[1:] from what precedes them."""
    if len(ids) > model.config.block_size + 1:
        raise ValueError(
            f"{len(ids)} tokens do not fit the window of "
            f"{model.config.block_size}: cut them with windows()"
        )
    cache = Cache(model.config.n_layer)
    losses = []
    for t in range(len(ids) - 1):
        logits = step(model.config, model.weights, ops, ids[t], cache)
        losses.append(cross_entropy(logits, ids[t + 1]))
    return losses


def windows(ids, block_size):
    """ids cut into pieces of <= block_size + 1 tokens, overlapping by 1."""
    if len(ids) <= block_size + 1:
        return [ids]
    return [
        ids[i : i + block_size + 1] for i in range(0, len(ids) - 1, block_size)
    ]


class Reader:
    """Feeds tokens through a model's float weights with a KV cache."""

    def __init__(self, model, w=None):
        self.config = model.config
        self.w = model.floats() if w is None else w
        self.cache = Cache(self.config.n_layer)
        self.tokens = []

    def feed(self, token):
        """Logits [vocab_size] of the symbol after token."""
        T = self.config.block_size
        if len(self.cache) == T:  # full: slide the window by one
            self.cache = Cache(self.config.n_layer)
            for old in self.tokens[-(T - 1) :]:
                step(self.config, self.w, FLOAT, old, self.cache)
        self.tokens.append(token)
        return step(self.config, self.w, FLOAT, token, self.cache)


def log_softmax_at(z, i):
    """-log softmax(z)[i], computed without overflow."""
    m = max(z)
    return m + math.log(sum(math.exp(z_j - m) for z_j in z)) - z[i]


def token_losses(model):
    """token_losses for mean_nll: -log p of ids[1:], fast path."""
    w = model.floats()

    def losses(ids):
        reader = Reader(model, w)
        return [
            log_softmax_at(reader.feed(a), b) for a, b in zip(ids, ids[1:])
        ]

    return losses


def evaluate(model, items):
    """Mean nats per predicted token over items (str), as mean_nll."""
    sequences = [model.vocab.encode(item) for item in items]
    return mean_nll(token_losses(model), sequences)


class Trained:
    """What a training run measured."""

    def __init__(self):
        self.losses = []  # training loss of every step
        self.curve = []  # (step, mean training loss, val loss or None)
        self.tokens = 0  # predictions trained on
        self.pieces = 0  # windows trained on, repeats counted
        self.passes = 0.0  # pieces / the number of distinct windows
        self.cpu = 0.0  # CPU seconds in training steps, evaluation excluded

    def tokens_per_second(self):
        return self.tokens / self.cpu if self.cpu else 0.0


def train(
    model,
    items,
    steps,
    batch_size=8,
    lr=0.02,
    seed=0,
    ops=GRAD,
    progress=None,
    val_items=None,
):
    """Train model on items (str); val loss on every progress line."""
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if type(value) is not int or value < 1:
            raise ValueError(
                f"{name} must be a whole number >= 1, got {value!r}"
            )
    pieces = training_pieces(model, items)
    if not pieces:
        raise ValueError("items is empty: there is nothing to train on")
    rng = random.Random(seed)
    opt = Adam(model.parameters(), lr, beta1=0.9, beta2=0.99)
    schedule = WarmupCosine(lr, max(1, steps // 20), steps)
    result, order, since = Trained(), [], []
    for t in range(1, steps + 1):
        # A batch of pieces, in a fresh shuffled order each epoch.
        while len(order) < batch_size:
            epoch = list(range(len(pieces)))
            rng.shuffle(epoch)
            order += epoch
        batch = [pieces[order.pop()] for _ in range(batch_size)]

        # Forward, backward, update; timed on the CPU.
        start = time.process_time()
        losses = [
            loss for ids in batch for loss in sequence_losses(model, ids, ops)
        ]
        loss = total(losses) / len(losses)
        opt.zero_grad()
        gc_off(loss.backward)
        opt.lr = schedule(t)
        opt.step()
        result.cpu += time.process_time() - start
        result.tokens += len(losses)
        result.pieces += len(batch)
        result.losses.append(loss.data)
        since.append(loss.data)
        if progress is not None and progress.due(t):
            point = _report(model, t, since, val_items, progress)
            result.curve.append(point)
            since = []
    result.passes = result.pieces / len(pieces)
    return result


def training_pieces(model, items):
    """The windows of every item: what one pass over the data trains on."""
    T = model.config.block_size
    return [
        piece
        for item in items
        for piece in windows(model.vocab.encode(item), T)
    ]


def _report(model, t, since, val_items, progress):
    mean = math.fsum(since) / len(since)
    if val_items is None:
        progress.log(t, loss=mean)
        return (t, mean, None)
    val = evaluate(model, val_items)
    progress.log(t, loss=mean, val=val)
    return (t, mean, val)


def check_sampling(temperature, top_k):
    if isinstance(temperature, bool) or not isinstance(
        temperature, (int, float)
    ):
        raise TypeError(f"temperature must be a number, got {temperature!r}")
    if not 0 <= temperature < math.inf:
        raise ValueError(
            f"temperature must be a finite number >= 0, got {temperature}"
        )
    if top_k is not None and (type(top_k) is not int or top_k < 1):
        raise ValueError(
            f"top_k must be a whole number >= 1 or None, got {top_k!r}"
        )


def pick(z, rng, temperature=1.0, top_k=None):
    """A symbol id drawn from logits z [vocab_size]; never UNKNOWN."""
    check_sampling(temperature, top_k)
    ids = [i for i in range(len(z)) if i != UNKNOWN]
    if top_k is not None and top_k < len(ids):
        ids = sorted(ids, key=lambda i: (-z[i], i))[:top_k]
        ids.sort()
    if temperature == 0:
        return max(ids, key=lambda i: (z[i], -i))  # ties: the lower id
    m = max(z[i] for i in ids)
    weights = [math.exp((z[i] - m) / temperature) for i in ids]
    return rng.choices(ids, weights)[0]


def generate(model, rng, temperature=1.0, top_k=None, max_len=50, w=None):
    """(item, cut): a sampled item (str) of at most max_len symbols, and
    whether it was cut off there instead of ending by itself."""
    check_sampling(temperature, top_k)
    if type(max_len) is not int or max_len < 0:
        raise ValueError(
            f"max_len must be a whole number >= 0, got {max_len!r}"
        )
    reader = Reader(model, w)
    out, token = [], BOUNDARY
    while True:
        token = pick(reader.feed(token), rng, temperature, top_k)
        if token == BOUNDARY:
            return model.vocab.decode(out), False
        if len(out) == max_len:  # one symbol too many: cut off
            return model.vocab.decode(out), True
        out.append(token)


def samples(model, n, seed=0, temperature=1.0, top_k=None, max_len=50):
    """n (item, cut) pairs sampled with random.Random(seed)."""
    rng, w = random.Random(seed), model.floats()
    return [
        generate(model, rng, temperature, top_k, max_len, w) for _ in range(n)
    ]


def novelty(drawn, train_items):
    """The share of drawn items (str) that are not in the training items."""
    if not drawn:
        raise ValueError("drawn is empty: there is no share to compute")
    seen = set(train_items)
    return sum(item not in seen for item in drawn) / len(drawn)


def attention_weights(model, item, layer=0):
    """The symbols read and a_ts [n_head][t][t'] of layer for item."""
    ids = model.vocab.encode(item)[:-1][: model.config.block_size]
    reader = Reader(model)
    for token in ids:
        reader.feed(token)
    rows = reader.cache.weights[layer]  # [t][n_head][t + 1]
    heads = [[row[h] for row in rows] for h in range(model.config.n_head)]
    return [model.vocab.symbol(i) for i in ids], heads


def show_attention(model, item, layer=0, out=None):
    """Print each head's weights as a lower-triangular table."""
    out = out or sys.stdout
    symbols, heads = attention_weights(model, item, layer)
    print(f"attention weights for {item!r}, layer {layer}", file=out)
    for h, a in enumerate(heads):
        print(f"  head {h}  " + "".join(f"{s:>5}" for s in symbols), file=out)
        for s, row in zip(symbols, a):
            print(f"  {s:>7} " + "".join(f"{x:5.2f}" for x in row), file=out)


MAGIC = "micro-gpt 1"


def _format(model):
    config = model.config
    sizes = " ".join(f"{f} {getattr(config, f)}" for f in Config.FIELDS)
    lines = [
        MAGIC,
        f"config {sizes}",
        f"vocab {json.dumps(model.vocab.chars)}",
    ]
    for name, shape in config.shapes():
        lines.append(f"{name} {' '.join(map(str, shape))}")
        w = model.weights[name]
        for row in w if len(shape) == 2 else [w]:
            lines.append(" ".join(repr(v.data) for v in row))
    return lines


def checksum(lines):
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def save(model, path):
    """Write model to path atomically (format: see the chapter)."""
    lines = _format(model)
    lines.append(f"sha256 {checksum(lines)}")
    path = pathlib.Path(path)
    if not path.name or path.is_dir():
        raise ValueError(f"{path}: not a file name to save to")
    # note: mode "x" creates a new file with the usual umask permissions.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load(path, vocab=None):
    """A GPT read from a file written by save; InputError if it is bad."""
    shown = shown_path(path)
    try:
        lines = read_text(path).splitlines()
    except InputError as error:
        raise InputError(as_given(path, error)) from None

    def fail(number, message):
        raise InputError(f"{shown}:{number}: {message}")

    if lines[0] != MAGIC:
        fail(1, f"not a micro GPT file (expected {MAGIC!r})")
    end = len(lines)  # lines[0] is not blank, so this stops
    while not lines[end - 1].strip():
        end -= 1
    if end < len(lines) and lines[end - 1].startswith("sha256 "):
        fail(end + 1, "blank lines after the checksum line: remove them")
    if not lines[-1].startswith("sha256 "):
        fail(len(lines), "no checksum line at the end: the file is truncated")
    if lines[-1] != f"sha256 {checksum(lines[:-1])}":
        fail(len(lines), "checksum does not match: the file is corrupted")
    if len(lines) < 4:
        fail(len(lines), "the file ends before the weights")
    config = _read_config(lines[1], lambda m: fail(2, m))
    chars = _read_vocab(lines[2], config, lambda m: fail(3, m))
    weights = _read_weights(lines, config, fail)
    model = GPT(config, Vocab(chars), weights)
    if vocab is not None and vocab.chars != model.vocab.chars:
        raise InputError(
            f"{shown}: the model's vocabulary ({len(model.vocab.chars)} "
            f"characters: {''.join(model.vocab.chars)!r}) is not the data's "
            f"({len(vocab.chars)} characters: {''.join(vocab.chars)!r})"
        )
    if not _finite_outputs(model):
        raise InputError(
            f"{shown}: the weights give logits that are not finite numbers "
            "(some weights are far too large)"
        )
    return model


def _finite_outputs(model):
    """True if reading each symbol, and every position, gives finite logits."""
    w = model.floats()
    try:
        outputs = [Reader(model, w).feed(i) for i in range(len(model.vocab))]
        reader = Reader(model, w)
        for _ in range(model.config.block_size):
            outputs.append(reader.feed(BOUNDARY))
    except (OverflowError, ValueError, ZeroDivisionError):
        return False
    return all(math.isfinite(z) for logits in outputs for z in logits)


def shown_path(path):
    """path as the user typed it, quoted if a Path would print it otherwise."""
    text = str(path)
    return text if text == str(pathlib.Path(text)) else repr(text)


def as_given(path, error):
    """error's message, with its leading path as the user typed it."""
    message = str(error)
    prefix = f"{pathlib.Path(path)}:"
    if message.startswith(prefix):
        message = shown_path(path) + ":" + message[len(prefix) :]
    return message


def _read_config(line, fail):
    parts = line.split(" ")
    fields, values = parts[1::2], parts[2::2]
    n = len(Config.FIELDS)
    if parts[0] != "config" or len(parts) != 1 + 2 * n:
        fail("expected 'config " + " N ".join(Config.FIELDS) + " N'")
    if tuple(fields) != Config.FIELDS:
        fail("expected 'config " + " N ".join(Config.FIELDS) + " N'")
    for name, x in zip(fields, values):
        if not (x.isascii() and x.isdigit() and len(x) <= 9):
            fail(f"{name} must be written as digits 0-9, got {x!r}")
    try:
        return Config(*(int(x) for x in values))
    except ValueError as error:
        fail(f"bad sizes ({error})")


def _read_vocab(line, config, fail):
    try:
        chars = json.loads(line.removeprefix("vocab "))
    except ValueError:
        chars = None
    if not line.startswith("vocab ") or not isinstance(chars, list):
        fail("expected 'vocab <JSON list of characters>'")
    ok = all(isinstance(c, str) and len(c) == 1 for c in chars)
    if not ok or chars != sorted(set(chars)):
        fail("the vocabulary must be sorted, distinct single characters")
    if len(chars) + 2 != config.vocab_size:
        fail(
            f"{len(chars)} characters + 2 special symbols do not make "
            f"vocab_size {config.vocab_size}"
        )
    return chars


def _read_weights(lines, config, fail):
    weights, number = {}, 4  # the line number being read
    end = len(lines)  # the checksum line
    # note: one shape at a time, so a config of 100,000 layers in a file of
    # one layer fails at the first missing line, before building the rest.
    for name, shape in config.iter_shapes():
        expected = f"{name} {' '.join(map(str, shape))}"
        if number >= end:
            fail(number, f"the file ends before {expected!r}")
        if lines[number - 1] != expected:
            fail(number, f"expected {expected!r}, got {lines[number - 1]!r}")
        rows = []
        for _ in range(shape[0] if len(shape) == 2 else 1):
            number += 1
            if number >= end:
                fail(number, f"the file ends inside {name}")
            rows.append(_read_row(lines[number - 1], shape[-1], number, fail))
        weights[name] = rows if len(shape) == 2 else rows[0]
        number += 1
    if number != end:
        fail(number, "unexpected lines after the last weight")
    return weights


def _read_row(line, n, number, fail):
    try:
        row = [float(x) for x in line.split(" ")]
    except ValueError:
        fail(number, f"expected {n} numbers, got {line[:40]!r}")
    if len(row) != n:
        fail(number, f"expected {n} numbers, got {len(row)}")
    if not all(map(math.isfinite, row)):
        fail(number, "a weight is not a finite number")
    return [Value(x) for x in row]


NOVELTY_SAMPLES = 1000


def describe(model, train_items, val_items, out):
    c = model.config
    longest = max(len(item) for item in train_items + val_items)
    print(
        f"data: {len(train_items):,} training and {len(val_items):,} "
        f"validation items; vocabulary {c.vocab_size} symbols; longest "
        f"item {longest} characters, window {c.block_size} tokens",
        file=out,
    )
    print(
        f"model: n_layer {c.n_layer}, n_head {c.n_head}, n_embd "
        f"{c.n_embd}, n_hidden {c.n_hidden}: {c.n_params():,} parameters",
        file=out,
    )


def report(model, train_items, val_items, args, trained=None, out=None):
    """Print the validation loss, speed, samples and attention."""
    out = out or sys.stdout
    baseline = bigram_baseline(train_items, val_items, model.vocab)["val"]
    val = evaluate(model, val_items)
    print(
        f"val loss (nats per character): gpt {val:.4f} | add-one bigram "
        f"{baseline:.4f} | gpt - bigram {val - baseline:+.4f}",
        file=out,
    )
    if trained is not None:
        print(
            f"training: {trained.pieces:,} windows ({trained.passes:.2f} "
            f"passes over the training data), {trained.tokens:,} tokens in "
            f"{trained.cpu:.1f}s CPU, {trained.tokens_per_second():,.0f} "
            "tokens/s",
            file=out,
        )
    # note: no sample needs to be longer than the longest training item.
    T, k, n = args.temperature, args.top_k, max(map(len, train_items))
    top = "" if k is None else f", top-k {k}"
    drawn = samples(model, args.samples, args.seed, T, k, n)
    shown = ", ".join(show_sample(item, cut) for item, cut in drawn)
    print(f"samples (temperature {T:g}{top}): {shown}", file=out)
    many = samples(model, NOVELTY_SAMPLES, args.seed + 1, T, k, n)
    print(novelty_line(many, train_items, n), file=out)
    show_attention(model, val_items[0], out=out)
    return val, baseline


def show_sample(item, cut):
    """A sample as printed: '(empty)', or a trailing '…' if cut off."""
    if cut:
        return item + "…"
    return item or "(empty)"


def novelty_line(drawn, train_items, max_len):
    """The report's line on new names among (item, cut) pairs drawn."""
    finished = [item for item, cut in drawn if not cut]
    cut = len(drawn) - len(finished)
    left_out = f"{cut:,} cut off at {max_len} characters, not counted"
    if not finished:
        return (
            f"new names: none of {len(drawn):,} samples finished ({left_out})"
        )
    seen = set(train_items)
    new = {item for item in finished if item not in seen}
    share = novelty(finished, train_items)
    return (
        f"new names: {share:.1%} of {len(finished):,} finished samples are "
        f"not in the training data ({len(new):,} distinct; {left_out})"
    )


def non_negative_float(text):
    """argparse type: a finite number >= 0 (a temperature)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number, got {text!r}"
        ) from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(
            f"must be a finite number >= 0, got {text}"
        )
    return value


DEFAULT_STEPS = 200


def main(argv=None, prog="python -m micro gpt"):
    parser = command(
        prog,
        "Train a character-level GPT, score it against the bigram, sample.",
        data="a UTF-8 file with one item per line (default: census names)",
    )
    add = parser.add_argument
    add(
        "--steps",
        type=positive_int,
        default=None,
        help=f"training steps (default {DEFAULT_STEPS}; not with --load)",
    )
    add("--save", metavar="PATH", help="write the trained weights to PATH")
    add("--load", metavar="PATH", help="load weights instead of training")
    add(
        "--temperature",
        type=non_negative_float,
        default=1.0,
        help="sampling temperature; 0 is greedy (default 1)",
    )
    add(
        "--top-k",
        type=positive_int,
        default=None,
        help="sample from the K most likely symbols (default: all)",
    )
    add(
        "--samples",
        type=positive_int,
        default=20,
        help="names to print (default 20)",
    )

    def body(args):
        if args.load is not None and args.steps is not None:
            raise InputError(
                "--steps trains a new model; --load uses a trained one: "
                "give one of them"
            )
        steps = DEFAULT_STEPS if args.steps is None else args.steps
        if args.save is not None:
            try:
                check_save_path(args.save)  # before training, not after
            except InputError as error:
                raise InputError(as_given(args.save, error)) from None
        names = load_names(args.data)
        try:
            train_items, val_items = split(names)
        except InputError as error:
            raise InputError(f"{args.data}: {error}") from None
        vocab = Vocab.from_items(train_items)
        if args.load is not None:
            model, trained = load(args.load, vocab), None
        else:
            model = GPT.new(vocab, seed=args.seed)
        describe(model, train_items, val_items, sys.stdout)
        if args.load is None:
            progress = Progress(steps, every=max(1, steps // 5))
            trained = train(
                model,
                train_items,
                steps,
                seed=args.seed,
                progress=progress,
                val_items=val_items,
            )
        report(model, train_items, val_items, args, trained)
        if args.save is not None:
            try:
                save(model, args.save)
            except OSError as error:
                raise InputError(
                    f"{shown_path(args.save)}: cannot write ({error.strerror})"
                ) from None
            print(f"saved the weights to {shown_path(args.save)}")

    return run(parser, argv, body)
