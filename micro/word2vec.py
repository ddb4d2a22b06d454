# Tangled from book/word2vec.md: edit the chapter, not this file.
"""Skip-gram with negative sampling (word2vec): learn a vector per word by
telling each word's real neighbours from random words, with gradients
derived by hand and plain SGD; scored by a held-out pair test against
word frequency and pointwise mutual information.

Left out on purpose: automatic differentiation (gradients are derived by
hand), hierarchical softmax and CBOW, multi-threaded and table-lookup speed
tricks, phrases and sub-word units.
"""

import math
import random
import re
import sys
import time
from collections import Counter
from itertools import accumulate
from operator import mul

from micro.prelude import (
    InputError,
    Progress,
    command,
    load_corpus,
    load_docstrings,
    positive_int,
    run,
    split,
)


WORD = re.compile(r"[a-z]+")


def words(doc):
    """The words of one document: lower-cased runs of a to z."""
    if not isinstance(doc, str):
        raise TypeError(f"a document must be a str, got {type(doc).__name__}")
    return WORD.findall(doc.lower())


def reiterable(corpus):
    """The corpus as something that can be iterated more than once."""
    if isinstance(corpus, str):
        return [corpus]
    try:
        iterator = iter(corpus)
    except TypeError:
        raise TypeError(
            "the corpus must be an iterable of str documents, got "
            f"{type(corpus).__name__}"
        ) from None
    if iterator is corpus:
        raise TypeError(
            f"the corpus is a one-shot iterator ({type(corpus).__name__}): "
            "training reads it once per epoch, so pass a list (for example "
            "list(corpus)) or another re-iterable collection"
        )
    return corpus


class Vocabulary:
    """Words seen at least min_count times, ordered by count, then a-z."""

    def __init__(self, counts, min_count=5):
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count!r}")
        kept = [w for w, n in counts.items() if n >= min_count]
        self.words = sorted(kept, key=lambda w: (-counts[w], w))
        self.index = {w: i for i, w in enumerate(self.words)}
        self.counts = [counts[w] for w in self.words]  # [V]
        self.total = sum(self.counts)
        self.min_count = min_count

    @classmethod
    def build(cls, corpus, min_count=5):
        counts = Counter()
        for doc in reiterable(corpus):
            counts.update(words(doc))
        return cls(counts, min_count)

    def __len__(self):
        return len(self.words)

    def encode(self, doc):
        """Ids of the document's words; words not in the vocabulary dropped."""
        index = self.index
        return [index[w] for w in words(doc) if w in index]


def skipgram_pairs(ids, window=2):
    """(centre, context) for every two positions at most window apart."""
    pairs = []
    n = len(ids)
    for i, centre in enumerate(ids):
        for j in range(max(0, i - window), min(n, i + window + 1)):
            if j != i:
                pairs.append((centre, ids[j]))
    return pairs


def keep_probabilities(vocab, sample=1e-2):
    """[V] chance of keeping each occurrence of a word when subsampling."""
    if not sample > 0:
        raise ValueError(f"sample must be > 0, got {sample!r}")
    return [
        min(1.0, math.sqrt(sample * vocab.total / n)) for n in vocab.counts
    ]


def subsample(ids, keep, rng):
    """The ids that survive one random draw each."""
    return [i for i in ids if rng.random() < keep[i]]


def unigram_weights(vocab, power=0.75):
    """[V] cumulative weights of count ** power, for Random.choices."""
    return list(accumulate(n**power for n in vocab.counts))


def draw(cum_weights, rng, k):
    """k word ids drawn with replacement from the cumulative weights."""
    return rng.choices(range(len(cum_weights)), cum_weights=cum_weights, k=k)


INIT_STD = 0.1


def init_vectors(vocab_size, dim, rng):
    """(W_in, W_out), both [V][d] of N(0, INIT_STD^2) noise."""
    W_in = [
        [rng.gauss(0.0, INIT_STD) for _ in range(dim)]
        for _ in range(vocab_size)
    ]
    W_out = [
        [rng.gauss(0.0, INIT_STD) for _ in range(dim)]
        for _ in range(vocab_size)
    ]
    return W_in, W_out


def dot(a, b):
    return sum(map(mul, a, b))


def log_sigmoid(x):
    """log(1 / (1 + exp(-x))), finite for every finite x."""
    return min(x, 0.0) - math.log1p(math.exp(-abs(x)))


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def sgns_grads(v, us):
    """Loss of one pair, d loss / d v, and g_j = d loss / d s_j.

    v is the centre's input vector [d]; us[0] is the true context's output
    vector and us[1:] the negatives' ([k + 1][d]). The gradient for us[j]
    is g_j * v.
    """
    loss = 0.0
    grad_v = [0.0] * len(v)
    g = []
    for j, u in enumerate(us):
        s = dot(u, v)
        y = 1.0 if j == 0 else 0.0

        # -log sigma(s) for the true pair, -log sigma(-s) for a negative
        loss -= log_sigmoid(s if j == 0 else -s)

        # g_j = sigma(s_j) - y_j; d loss / d v gains g_j u_j
        g_j = sigmoid(s) - y
        grad_v = [a + g_j * b for a, b in zip(grad_v, u)]
        g.append(g_j)
    return loss, grad_v, g


def sgd_step(W_in, W_out, centre, outputs, lr):
    """One SGD step on one pair; outputs = [context, *negatives]. Loss."""
    v = W_in[centre]
    loss, grad_v, g = sgns_grads(v, [W_out[o] for o in outputs])
    for o, g_j in zip(outputs, g):
        step = lr * g_j
        W_out[o] = [a - step * b for a, b in zip(W_out[o], v)]
    W_in[centre] = [a - lr * b for a, b in zip(v, grad_v)]
    return loss


def fast_sgd_step(W_in, W_out, centre, outputs, lr):
    """sgd_step with sgns_grads written inline: same result, less overhead."""
    v = W_in[centre]
    us = [W_out[o] for o in outputs]  # [k + 1][d] the rows before the step
    loss = 0.0
    grad_v = [0.0] * len(v)
    for j, (o, u) in enumerate(zip(outputs, us)):
        s = sum(map(mul, u, v))
        e = math.exp(-abs(s))
        y = 1.0 if j == 0 else 0.0

        # loss -= log_sigmoid(+s or -s); g_j = sigmoid(s) - y
        loss -= min(s if j == 0 else -s, 0.0) - math.log1p(e)
        g_j = (1.0 / (1.0 + e) if s >= 0 else e / (1.0 + e)) - y

        grad_v = [a + g_j * b for a, b in zip(grad_v, u)]
        step = lr * g_j
        W_out[o] = [a - step * b for a, b in zip(W_out[o], v)]
    W_in[centre] = [a - lr * b for a, b in zip(v, grad_v)]
    return loss


class SGNS:
    """Trained skip-gram vectors: W_in and W_out are [V][d]."""

    def __init__(self, vocab, W_in, W_out):
        self.vocab, self.W_in, self.W_out = vocab, W_in, W_out

    def score(self, w, c):
        return dot(self.W_in[w], self.W_out[c])

    @property
    def n_params(self):
        return 2 * len(self.W_in) * len(self.W_in[0])


def train(
    corpus,
    vocab,
    dim=32,
    epochs=2,
    negatives=1,
    window=2,
    lr=0.1,
    sample=1e-2,
    seed=0,
    progress=None,
):
    """Train SGNS vectors on the documents of corpus (re-read each epoch).

    progress, if given, is a prelude.Progress over epochs * documents.
    """
    docs = reiterable(corpus)
    if len(vocab) == 0:
        raise InputError("the vocabulary is empty: no word to train")
    rng = random.Random(seed)
    W_in, W_out = init_vectors(len(vocab), dim, rng)
    keep = keep_probabilities(vocab, sample)
    cum = unigram_weights(vocab, 0.75)
    total = epochs * vocab.total
    read, step, loss_sum, pair_count = 0, 0, 0.0, 0

    for _ in range(epochs):
        for doc in docs:
            ids = vocab.encode(doc)
            read += len(ids)
            eta = lr * max(1e-4, 1.0 - read / total)

            # One step per (centre, context) pair, with k fresh negatives.
            pairs = skipgram_pairs(subsample(ids, keep, rng), window)
            drawn = draw(cum, rng, negatives * len(pairs))
            for p, (centre, context) in enumerate(pairs):
                negs = drawn[p * negatives : (p + 1) * negatives]
                outputs = [context, *negs]
                loss_sum += fast_sgd_step(W_in, W_out, centre, outputs, eta)
            pair_count += len(pairs)

            step += 1
            # note: a document too short for a pair has no loss to show
            due = progress is not None and progress.due(step)
            if due and pair_count:
                progress.log(step, loss=loss_sum / pair_count)
                loss_sum, pair_count = 0.0, 0
    if read == 0:
        raise InputError("the corpus has no word of the vocabulary")
    return SGNS(vocab, W_in, W_out)


def heldout_pairs(docs, vocab, window=2):
    """All (centre, context) pairs of the docs, out-of-vocabulary dropped."""
    pairs = []
    for doc in reiterable(docs):
        pairs += skipgram_pairs(vocab.encode(doc), window)
    return pairs


def heldout_negatives(pairs, vocab, seed=0):
    """[n_pairs] one context per pair, drawn from the unigram (power 1)."""
    rng = random.Random(seed)
    return draw(unigram_weights(vocab, 1.0), rng, len(pairs))


def paired_auc(true_scores, negative_scores):
    """Share of true scores above their negative's, ties counting half."""
    if len(true_scores) != len(negative_scores):
        raise ValueError(
            f"{len(true_scores)} true scores but "
            f"{len(negative_scores)} negative scores"
        )
    if not true_scores:
        raise ValueError("no pairs to score")
    wins = 0.0
    for a, b in zip(true_scores, negative_scores):
        wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins / len(true_scores)


def pair_auc(score, pairs, negatives):
    """AUC of score(centre, context) on the pairs and their negatives."""
    true_scores = [score(w, c) for w, c in pairs]
    negative_scores = [score(w, n) for (w, _), n in zip(pairs, negatives)]
    return paired_auc(true_scores, negative_scores)


class PMI:
    """PMI(w, c) from window co-occurrence counts of training documents."""

    def __init__(self, docs, vocab, window=2):
        counts = Counter()
        for doc in reiterable(docs):
            counts.update(skipgram_pairs(vocab.encode(doc), window))
        if not counts:
            raise InputError("no training pairs to count for PMI")
        marginal = [0] * len(vocab)  # [V] pairs with w as centre
        for (w, _), n in counts.items():
            marginal[w] += n
        D = sum(counts.values())
        self.pmi = {
            (w, c): math.log(n * D / (marginal[w] * marginal[c]))
            for (w, c), n in counts.items()
        }
        self.unseen = min(self.pmi.values()) - 1.0

    def score(self, w, c):
        return self.pmi.get((w, c), self.unseen)


def nearest(model, word, n=5):
    """The n words whose input vectors have the highest cosine with word's."""
    vocab = model.vocab
    if word not in vocab.index:
        raise KeyError(f"{word!r} is not in the vocabulary")
    unit = [normalise(v) for v in model.W_in]  # [V][d]
    query = unit[vocab.index[word]]
    cosines = [(dot(query, u), i) for i, u in enumerate(unit)]
    cosines.sort(key=lambda pair: (-pair[0], pair[1]))
    return [
        (vocab.words[i], cos) for cos, i in cosines if vocab.words[i] != word
    ][:n]


def normalise(v):
    norm = math.sqrt(dot(v, v))
    return [x / norm for x in v] if norm > 0 else v


def neighbour_table(model, query_words, n=5):
    """Markdown rows: each word and its n nearest neighbours with cosines."""
    rows = ["| word | nearest neighbours (cosine) |", "|---|---|"]
    for word in query_words:
        near = ", ".join(f"{w} {c:.2f}" for w, c in nearest(model, word, n))
        rows.append(f"| {word} | {near} |")
    return rows


QUERY_WORDS = ("file", "string", "true", "thread", "read", "socket")


def report(train_docs, heldout_docs, seed=0, min_count=5, out=None, **options):
    """Train, then print held-out pair AUCs and a neighbours table."""
    out = out or sys.stdout
    train_docs = reiterable(train_docs)
    vocab = Vocabulary.build(train_docs, min_count)
    if len(vocab) == 0:
        raise InputError(
            f"no word occurs {min_count} or more times in the training text"
        )
    pairs = heldout_pairs(heldout_docs, vocab)
    if not pairs:
        raise InputError("the held-out text has no pair of vocabulary words")
    print(
        f"training text: {len(train_docs):,} documents, {vocab.total:,} "
        f"tokens; vocabulary {len(vocab):,} words (min count {min_count})",
        file=out,
    )
    dim = options.get("dim", 32)
    print(
        f"parameters: 2 x {len(vocab):,} x {dim} = {2 * len(vocab) * dim:,}; "
        f"held-out pairs {len(pairs):,}",
        file=out,
    )

    epochs = options.get("epochs", 2)
    steps = epochs * len(train_docs)
    start = time.perf_counter()
    model = train(
        train_docs,
        vocab,
        seed=seed,
        progress=Progress(steps, out=out),
        **options,
    )
    seconds = time.perf_counter() - start

    negatives = heldout_negatives(pairs, vocab, seed)
    untrained = SGNS(
        vocab, *init_vectors(len(vocab), dim, random.Random(seed))
    )
    scorers = [
        ("trained vectors", model.score),
        ("untrained vectors", untrained.score),
        ("context frequency", lambda w, c: vocab.counts[c]),
        ("PMI (unseen: min - 1)", PMI(train_docs, vocab).score),
    ]
    print(f"held-out pair AUC (trained in {seconds:.1f}s):", file=out)
    for name, score in scorers:
        print(
            f"  {name:<22} {pair_auc(score, pairs, negatives):.4f}", file=out
        )

    query = [w for w in QUERY_WORDS if w in vocab.index]
    query = query or vocab.words[10:70:12]
    for row in neighbour_table(model, query):
        print(row, file=out)
    return model


def main(argv=None, prog="python -m micro word2vec"):
    parser = command(
        prog,
        "Train skip-gram with negative sampling; score it on held-out pairs.",
        data="a UTF-8 text file to train on (default: the bundled docstrings)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=2,
        help="passes over the training text (default 2)",
    )
    parser.add_argument(
        "--dim",
        type=positive_int,
        default=32,
        help="numbers per word vector (default 32)",
    )
    parser.add_argument(
        "--negatives",
        type=positive_int,
        default=1,
        help="negatives per true pair (default 1)",
    )
    parser.add_argument(
        "--min-count",
        type=positive_int,
        default=5,
        help="drop words seen fewer times (default 5)",
    )

    def body(args):
        docs = (
            load_docstrings() if args.data is None else load_corpus(args.data)
        )
        train_docs, heldout_docs = split(docs)
        report(
            train_docs,
            heldout_docs,
            seed=args.seed,
            min_count=args.min_count,
            epochs=args.epochs,
            dim=args.dim,
            negatives=args.negatives,
        )

    return run(parser, argv, body)
