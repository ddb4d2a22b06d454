# Tangled from book/embedding.md: edit the chapter, not this file.
"""Contrastive embeddings of names: hashed character n-grams, a learned
linear projection to a unit vector, and the InfoNCE loss with in-batch
negatives, its gradients derived by hand.

Left out on purpose: automatic differentiation (next chapter), deep
encoders, optimisers beyond plain gradient steps, approximate
nearest-neighbour search, and keyboard-aware typos.
"""

import math
import operator
import random
import sys
import time
import zlib

from micro.prelude import (
    InputError,
    Progress,
    command,
    load_names,
    positive_float,
    positive_int,
    run,
    split,
)


def ngrams(name, n_max=3):
    """The characters of name, then its 2..n_max-grams with < and > pads."""
    padded = "<" + name + ">"
    grams = list(name)
    for n in range(2, n_max + 1):
        grams += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return grams


N_FEATURES = 2**14


def features(name, n_features=N_FEATURES):
    """Sparse n-gram counts of name: sorted [(bucket j, count x_j)]."""
    counts = {}
    for gram in ngrams(name):
        j = zlib.crc32(gram.encode("utf-8")) % n_features
        counts[j] = counts.get(j, 0) + 1
    return sorted(counts.items())


def random_projection(dim, n_features=N_FEATURES, rng=None):
    """W with Gaussian entries of std 1/sqrt(dim), stored by columns."""
    rng = rng or random.Random(0)
    scale = 1 / math.sqrt(dim)
    # [n_features][dim]: W[j] is column j of the d x F matrix
    return [
        [rng.gauss(0.0, scale) for _ in range(dim)] for _ in range(n_features)
    ]


def project(W, x):
    """h = W x for sparse counts x = [(j, x_j)]."""
    h = [0.0] * len(W[0])
    for j, x_j in x:
        h = [h_k + x_j * w_k for h_k, w_k in zip(h, W[j])]
    return h


def normalize(h):
    """(z, r): the unit vector h / r and the length r (0 for h = 0)."""
    r = math.hypot(*h)  # note: no overflow from squaring huge entries
    if r == 0.0:
        return [0.0] * len(h), 0.0
    return [h_k / r for h_k in h], r


def dot(a, b):
    return sum(map(operator.mul, a, b))


def embed(W, name):
    """The unit-length embedding z of a name."""
    return normalize(project(W, features(name, len(W))))[0]


def augment(name, rng, alphabet):
    """name with exactly one edit: a deletion, swap or substitution."""
    # Which edits can change this name at all.
    swaps = [i for i in range(len(name) - 1) if name[i] != name[i + 1]]
    subs = [i for i, ch in enumerate(name) if any(c != ch for c in alphabet)]
    edits = ["delete"] if len(name) >= 2 else []
    edits += ["swap"] * bool(swaps) + ["substitute"] * bool(subs)
    if not edits:
        raise ValueError(f"cannot edit {name!r} with alphabet {alphabet!r}")

    # One of them, at a random place.
    edit = rng.choice(edits)
    if edit == "delete":
        i = rng.randrange(len(name))
        return name[:i] + name[i + 1 :]
    if edit == "swap":
        i = rng.choice(swaps)
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    i = rng.choice(subs)
    c = rng.choice([c for c in alphabet if c != name[i]])
    return name[:i] + c + name[i + 1 :]


def logsumexp(a):
    """log(sum(exp(a_k))), computed without overflow."""
    m = max(a)
    return m + math.log(math.fsum(math.exp(a_k - m) for a_k in a))


def check_temperature(tau):
    if not (isinstance(tau, int | float) and math.isfinite(tau) and tau > 0):
        raise ValueError(f"temperature must be a number > 0, got {tau!r}")


def info_nce(S, partner, tau):
    """(loss, dL/dS) of InfoNCE over similarity matrix S.

    S is [n][n]; row i's candidates are all k != i, partner[i] the right one.
    """
    check_temperature(tau)
    n = len(S)
    loss = 0.0
    G = [[0.0] * n for _ in range(n)]  # [n][n] dL/ds_ik
    for i in range(n):
        # The candidates of row i: every view but i itself.
        others = [k for k in range(n) if k != i]
        a = [S[i][k] / tau for k in others]
        lse = logsumexp(a)
        loss += lse - S[i][partner[i]] / tau

        # dl_i/ds_ik = (q_ik - [k = p(i)]) / tau, q the softmax.
        for k, a_k in zip(others, a):
            G[i][k] = math.exp(a_k - lse) / (tau * n)
        G[i][partner[i]] -= 1 / (tau * n)
    return loss / n, G


def similarities(Z):
    """S = Z Z^T for unit vectors Z, [n][dim] -> [n][n]."""
    return [[dot(z_i, z_k) for z_k in Z] for z_i in Z]


def backward_similarities(G, Z):
    """g_i = dL/dz_i = sum_k (G_ik + G_ki) z_k, [n][dim]."""
    n, dim = len(Z), len(Z[0])
    g = []
    for i in range(n):
        g_i = [0.0] * dim
        for k in range(n):
            c = G[i][k] + G[k][i]
            if c:
                g_i = [a + c * b for a, b in zip(g_i, Z[k])]
        g.append(g_i)
    return g


def backward_normalize(g, z, r):
    """dL/dh from g = dL/dz, for z = h / r."""
    if r == 0.0:
        return [0.0] * len(g)
    g_dot_z = dot(g, z)
    return [(g_k - g_dot_z * z_k) / r for g_k, z_k in zip(g, z)]


def loss_and_grad(W, X, partner, tau):
    """(loss, {j: dL/dW[j]}) for views with sparse counts X, [n] lists."""
    # Forward: counts -> h -> unit z -> similarities -> loss.
    H = [project(W, x) for x in X]  # [n][dim]
    Zr = [normalize(h) for h in H]
    Z = [z for z, _ in Zr]  # [n][dim]
    loss, G = info_nce(similarities(Z), partner, tau)

    # Backward: loss -> z -> h -> the columns of W that were used.
    g = backward_similarities(G, Z)
    dW = {}
    for x, g_i, (z, r) in zip(X, g, Zr):
        dh = backward_normalize(g_i, z, r)
        for j, x_j in x:
            col = dW.get(j) or [0.0] * len(dh)
            dW[j] = [c + x_j * d for c, d in zip(col, dh)]
    return loss, dW


def train(W, names, steps, batch, tau, lr, rng, progress=None):
    """Update W in place by InfoNCE on typo pairs; returns the losses."""
    check_temperature(tau)
    if not 2 <= batch <= len(names):
        raise ValueError(
            f"batch must be between 2 and the {len(names)} names, got {batch}"
        )
    alphabet = sorted(set("".join(names)))
    partner = [(i + batch) % (2 * batch) for i in range(2 * batch)]
    losses, recent = [], []
    for step in range(1, steps + 1):
        # A batch: B names, then one typo of each, in the same order.
        chosen = rng.sample(names, batch)
        views = chosen + [augment(name, rng, alphabet) for name in chosen]
        X = [features(v, len(W)) for v in views]

        # One plain gradient step on the columns the batch used.
        loss, dW = loss_and_grad(W, X, partner, tau)
        for j, grad in dW.items():
            W[j] = [w - lr * d for w, d in zip(W[j], grad)]

        losses.append(loss)
        recent.append(loss)
        if progress is not None and progress.due(step):
            progress.log(step, loss=math.fsum(recent) / len(recent))
            recent = []
    return losses


def typo_queries(targets, names, rng, alphabet, tries=100):
    """One seeded typo of each target that is not itself in names."""
    known = set(names)
    queries = []
    for name in targets:
        for _ in range(tries):
            typo = augment(name, rng, alphabet)
            if typo not in known:
                break
        queries.append(typo)
    return queries


def rank(scores, target):
    """1 + how many other candidates score at least scores[target]."""
    return sum(1 for s in scores if s >= scores[target])


class Projected:
    """Cosine of projected embeddings z = Wx / |Wx|."""

    def __init__(self, W):
        self.W = W

    def embed(self, name):
        return embed(self.W, name)

    def similarity(self, a, b):
        return dot(a, b)

    def scorer(self, candidates):
        return lambda q: [dot(q, c) for c in candidates]


class Counts:
    """Cosine of the raw n-gram count vectors x, kept sparse."""

    def __init__(self, n_features=N_FEATURES):
        self.n_features = n_features

    def embed(self, name):
        x = features(name, self.n_features)
        r = math.sqrt(sum(x_j * x_j for _, x_j in x))
        return {j: x_j / r for j, x_j in x}

    def similarity(self, a, b):
        return sum(v * b.get(j, 0.0) for j, v in a.items())

    def scorer(self, candidates):
        postings = {}  # bucket j -> [(candidate index, its value)]
        for c, vector in enumerate(candidates):
            for j, v in vector.items():
                postings.setdefault(j, []).append((c, v))

        def scores(q):
            out = [0.0] * len(candidates)
            for j, v in q.items():
                for c, u in postings.get(j, ()):
                    out[c] += v * u
            return out

        return scores


def evaluate(method, names, targets, queries, pairs):
    """{'top1', 'top5', 'positive', 'random'} of method on typo queries."""
    index = {name: c for c, name in enumerate(names)}
    scores = method.scorer([method.embed(name) for name in names])
    top1 = top5 = 0
    positive = []
    for name, typo in zip(targets, queries):
        s = scores(method.embed(typo))
        r = rank(s, index[name])
        top1 += r <= 1
        top5 += r <= 5
        positive.append(s[index[name]])

    # Random pairs: two different held-out names.
    in_pairs = sorted({name for pair in pairs for name in pair})
    embedded = {name: method.embed(name) for name in in_pairs}
    random_cos = [
        method.similarity(embedded[a], embedded[b]) for a, b in pairs
    ]
    return {
        "top1": top1 / len(targets),
        "top5": top5 / len(targets),
        "positive": math.fsum(positive) / len(positive),
        "random": math.fsum(random_cos) / max(1, len(random_cos)),
    }


def random_pairs(items, count, rng):
    """count pairs of two different items, drawn with rng."""
    distinct = sorted(set(items))
    if len(distinct) < 2:
        return []
    return [tuple(rng.sample(distinct, 2)) for _ in range(count)]


def check_names(names, batch):
    train_names, held_out = split(names)
    if len(set(train_names)) < batch:
        raise InputError(
            f"--batch {batch} needs at least {batch} different training "
            f"names; the data has {len(set(train_names))}"
        )
    if len(set("".join(train_names))) < 2:
        raise InputError(
            "the training names must use at least two different "
            "characters, or no typo can be made"
        )
    if len(held_out) < 2:
        raise InputError(
            f"only {len(held_out)} name is held out; evaluation needs at "
            "least two (give more names)"
        )
    return train_names, held_out


def report(
    names, dim=32, steps=450, batch=32, tau=0.1, lr=1.0, seed=0, out=None
):
    """Train, then print retrieval and cosine figures for three methods."""
    out = out or sys.stdout
    names = list(dict.fromkeys(names))  # note: a repeated line is one name
    train_names, held_out = check_names(names, batch)
    print(
        f"names: {len(names):,} ({len(train_names):,} train, "
        f"{len(held_out):,} held out); {N_FEATURES:,} hashed 1-3-gram "
        f"features; projection {dim} x {N_FEATURES:,} = "
        f"{dim * N_FEATURES:,} parameters",
        file=out,
    )
    print(
        f"InfoNCE: batch {batch} names + {batch} typos, "
        f"temperature {tau:g}, learning rate {lr:g}",
        file=out,
    )

    # Training starts from the random projection that is also the baseline.
    rng = random.Random(seed)
    W0 = random_projection(dim, rng=rng)
    W = [col[:] for col in W0]
    start = time.perf_counter()
    train(W, train_names, steps, batch, tau, lr, rng, Progress(steps, out=out))
    seconds = time.perf_counter() - start
    print(f"trained {steps:,} steps in {seconds:.1f}s", file=out)

    alphabet = sorted(set("".join(train_names)))
    eval_rng = random.Random(seed + 1)
    queries = typo_queries(held_out, names, eval_rng, alphabet)
    pairs = random_pairs(held_out, len(held_out), eval_rng)
    methods = {
        f"learned projection ({dim})": Projected(W),
        f"random projection ({dim})": Projected(W0),
        f"raw n-gram counts ({N_FEATURES:,})": Counts(),
    }
    print(
        f"typo -> name retrieval: {len(held_out):,} held-out names, each "
        f"with one typo, against all {len(names):,} names",
        file=out,
    )
    print(
        f"  {'method':<28} {'top-1':>6} {'top-5':>6} "
        f"{'cos pos':>8} {'cos rand':>8}",
        file=out,
    )
    results = {}
    for label, method in methods.items():
        r = evaluate(method, names, held_out, queries, pairs)
        results[label] = r
        print(
            f"  {label:<28} {r['top1']:>6.1%} {r['top5']:>6.1%} "
            f"{r['positive']:>8.3f} {r['random']:>8.3f}",
            file=out,
        )
    learned, baseline = list(results.values())[:2]
    gain = 100 * (learned["top1"] - baseline["top1"])
    print(
        f"learned - random projection: {gain:+.1f} points of top-1", file=out
    )
    return results


def main(argv=None, prog="python -m micro embedding"):
    parser = command(
        prog,
        "Learn contrastive embeddings of names and test typo retrieval.",
        data="a UTF-8 file with one name per line (default: census names)",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=450,
        help="training steps (default 450)",
    )
    parser.add_argument(
        "--dim",
        type=positive_int,
        default=32,
        help="embedding size d (default 32)",
    )
    parser.add_argument(
        "--batch",
        type=positive_int,
        default=32,
        help="names per batch, each with one typo (default 32, at least 2)",
    )
    parser.add_argument(
        "--temperature",
        type=positive_float,
        default=0.1,
        help="InfoNCE temperature tau > 0 (default 0.1)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        default=1.0,
        help="learning rate of the gradient steps (default 1.0)",
    )

    def body(args):
        if args.batch < 2:
            raise InputError(
                "--batch must be at least 2: a batch of one has no negatives"
            )
        report(
            load_names(args.data),
            dim=args.dim,
            steps=args.steps,
            batch=args.batch,
            tau=args.temperature,
            lr=args.lr,
            seed=args.seed,
        )

    return run(parser, argv, body)
