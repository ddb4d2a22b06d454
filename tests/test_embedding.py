"""Contrastive name embeddings: hand-derived gradients against finite
differences, the InfoNCE loss's known values and stability, augmentations,
retrieval, a short training run and the command line."""

import math
import pathlib
import random
import re

import pytest

from micro.embedding import (
    N_FEATURES,
    Counts,
    Projected,
    augment,
    backward_normalize,
    backward_similarities,
    evaluate,
    features,
    info_nce,
    logsumexp,
    loss_and_grad,
    ngrams,
    normalize,
    project,
    random_pairs,
    random_projection,
    rank,
    similarities,
    train,
    typo_queries,
)
from micro.prelude import load_names, split
from tests.clitools import assert_usage_error, run_micro


ROOT = pathlib.Path(__file__).resolve().parent.parent
ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def random_unit_vectors(rng, n, dim):
    return [
        normalize([rng.gauss(0, 1) for _ in range(dim)])[0] for _ in range(n)
    ]


def numeric(f, values, i, eps=1e-6):
    """Central difference of f() with respect to values[i], in place."""
    old = values[i]
    values[i] = old + eps
    up = f()
    values[i] = old - eps
    down = f()
    values[i] = old
    return (up - down) / (2 * eps)


# InfoNCE: known values, the excluded self-similarity, stability.


@pytest.mark.parametrize("tau", [0.001, 0.1, 1.0, 1000.0])
@pytest.mark.parametrize("n", [2, 4, 7])
def test_loss_is_ln_k_when_all_candidates_tie(tau, n):
    partner = [(i + 1) % n for i in range(n)]
    S = [[0.37] * n for _ in range(n)]
    loss, _ = info_nce(S, partner, tau)
    assert loss == pytest.approx(math.log(n - 1), abs=1e-12)


@pytest.mark.parametrize("tau", [0.001, 0.1, 1000.0])
def test_self_similarity_is_excluded(tau):
    rng = random.Random(3)
    n = 6
    S = [[rng.uniform(-1, 1) for _ in range(n)] for _ in range(n)]
    partner = [3, 4, 5, 0, 1, 2]
    before, G = info_nce(S, partner, tau)
    for i in range(n):
        S[i][i] = rng.choice([-50.0, 0.0, 1.0, 1e6])
    after, G_after = info_nce(S, partner, tau)
    assert after == before
    assert G == G_after
    assert all(G[i][i] == 0.0 for i in range(n))


def test_low_temperature_with_very_different_similarities_is_finite():
    partner = [2, 3, 0, 1]
    S = [[1.0, -1.0, -1.0, 0.999], [0.5, 1.0, -1.0, 1.0]]
    S += [[1.0, 1.0, 1.0, -1.0], [-1.0, 1.0, 1.0, 1.0]]
    loss, G = info_nce(S, partner, 0.001)
    # Row 0's partner is at -1 while a negative is near 1: a loss of about
    # (0.999 - (-1)) / tau, which exp() of the raw logits would overflow on.
    assert math.isfinite(loss) and loss > 400
    assert all(math.isfinite(g) for row in G for g in row)
    assert math.isfinite(logsumexp([1000.0, 999.0, -1000.0]))
    assert logsumexp([1000.0, 1000.0]) == pytest.approx(1000 + math.log(2))


@pytest.mark.parametrize("tau", [0, -1, float("nan"), float("inf"), "0.1"])
def test_temperature_must_be_positive(tau):
    with pytest.raises(ValueError, match="temperature"):
        info_nce([[1.0, 0.0], [0.0, 1.0]], [1, 0], tau)


def test_perfect_embedding_loss_falls_with_temperature():
    n = 4
    partner = [2, 3, 0, 1]
    S = [
        [1.0 if k in (i, partner[i]) else -1.0 for k in range(n)]
        for i in range(n)
    ]
    losses = [info_nce(S, partner, tau)[0] for tau in (1.0, 0.3, 0.1)]
    assert losses[0] > losses[1] > losses[2] >= 0
    # At tau = 1: -log(e / (e + 2 e^-1)) by hand.
    assert losses[0] == pytest.approx(math.log(1 + 2 * math.exp(-2)))


# Finite-difference checks of every hand-derived gradient.


@pytest.mark.parametrize("tau", [0.05, 0.5, 2.0])
def test_info_nce_gradient_wrt_similarities(tau):
    rng = random.Random(0)
    n = 6
    S = [[rng.uniform(-1, 1) for _ in range(n)] for _ in range(n)]
    partner = [3, 4, 5, 0, 1, 2]
    _, G = info_nce(S, partner, tau)
    for i in range(n):
        for k in range(n):
            expected = numeric(lambda: info_nce(S, partner, tau)[0], S[i], k)
            assert G[i][k] == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_gradient_wrt_embeddings():
    """g = dL/dz through S = Z Z^T, the unit vectors treated as free."""
    rng = random.Random(1)
    n, dim, tau = 6, 5, 0.3
    Z = random_unit_vectors(rng, n, dim)
    partner = [3, 4, 5, 0, 1, 2]

    def loss():
        return info_nce(similarities(Z), partner, tau)[0]

    _, G = info_nce(similarities(Z), partner, tau)
    g = backward_similarities(G, Z)
    for i in range(n):
        for k in range(dim):
            assert g[i][k] == pytest.approx(numeric(loss, Z[i], k), abs=1e-7)


def test_gradient_through_normalisation():
    rng = random.Random(2)
    h = [rng.gauss(0, 2) for _ in range(5)]
    c = [rng.gauss(0, 1) for _ in range(5)]  # L = c . (h / |h|)
    z, r = normalize(h)
    dh = backward_normalize(c, z, r)
    for k in range(5):
        expected = numeric(
            lambda: sum(map(float.__mul__, c, normalize(h)[0])), h, k
        )
        assert dh[k] == pytest.approx(expected, abs=1e-8)


def test_gradient_wrt_projection_entries():
    """End to end: counts -> projection -> normalisation -> InfoNCE."""
    rng = random.Random(4)
    W = random_projection(6, n_features=128, rng=rng)
    names = ["anna", "bob", "cleo", "dé"]
    views = names + [augment(name, rng, "abcdeloné") for name in names]
    X = [features(v, 128) for v in views]
    partner = [(i + 4) % 8 for i in range(8)]
    tau = 0.2
    _, dW = loss_and_grad(W, X, partner, tau)
    used = sorted({j for x in X for j, _ in x})
    assert sorted(dW) == used
    for j in used[::3]:
        for k in range(6):
            expected = numeric(
                lambda: loss_and_grad(W, X, partner, tau)[0], W[j], k
            )
            assert dW[j][k] == pytest.approx(expected, rel=1e-5, abs=1e-8)


def test_counts_and_projection():
    assert ngrams("ab") == ["a", "b", "<a", "ab", "b>", "<ab", "ab>"]
    assert ngrams("") == ["<>"]
    x = features("anna")
    assert sum(c for _, c in x) == len(ngrams("anna"))
    assert [j for j, _ in x] == sorted(j for j, _ in x)
    assert all(0 <= j < N_FEATURES for j, _ in x)
    W = [[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]
    assert project(W, [(0, 2), (2, 1)]) == [5.0, 3.0]
    z, r = normalize([3.0, 4.0])
    assert (z, r) == ([0.6, 0.8], 5.0)
    assert normalize([0.0, 0.0]) == ([0.0, 0.0], 0.0)


def test_random_projection_scale():
    W = random_projection(50, n_features=400, rng=random.Random(0))
    entries = [w for col in W for w in col]
    variance = sum(w * w for w in entries) / len(entries)
    assert variance == pytest.approx(1 / 50, rel=0.05)


# Augmentations: one edit, seeded, any name.


def edit_kind(a, b):
    """'delete', 'swap' or 'substitute' if b is one such edit of a."""
    if len(b) == len(a) - 1:
        if any(a[:i] + a[i + 1 :] == b for i in range(len(a))):
            return "delete"
    if len(b) == len(a):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return "substitute"
        if len(diff) == 2 and diff[1] == diff[0] + 1:
            i = diff[0]
            if a[i] == b[i + 1] and a[i + 1] == b[i]:
                return "swap"
    return None


@pytest.mark.parametrize(
    "name, alphabet",
    [
        ("catherine", ALPHABET),
        ("a", ALPHABET),
        ("aa", ALPHABET),
        ("zoë", "zoë"),
        ("김민준", "김민준서"),
        ("mary ann", ALPHABET + " "),
        ("🙂x", "x🙂"),
    ],
)
def test_augment_makes_exactly_one_edit(name, alphabet):
    rng = random.Random(0)
    kinds = set()
    for _ in range(300):
        typo = augment(name, rng, alphabet)
        assert typo != name and typo
        kind = edit_kind(name, typo)
        assert kind is not None, (name, typo)
        kinds.add(kind)
    if len(name) == 1:
        assert kinds == {"substitute"}
    elif name == "aa":
        assert kinds == {"delete", "substitute"}
    else:
        assert kinds == {"delete", "swap", "substitute"}


def test_augment_is_seeded():
    names = load_names()[:200]
    a = [augment(n, random.Random(7), ALPHABET) for n in names]
    b = [augment(n, random.Random(7), ALPHABET) for n in names]
    assert a == b
    assert a != [augment(n, random.Random(8), ALPHABET) for n in names]


def test_augment_refuses_impossible_edits():
    with pytest.raises(ValueError, match="cannot edit"):
        augment("a", random.Random(0), "a")
    with pytest.raises(ValueError, match="cannot edit"):
        augment("", random.Random(0), ALPHABET)


def test_typo_queries_avoid_real_names():
    names = ["ann", "anna", "bob"]
    queries = typo_queries(["anna"] * 50, names, random.Random(0), ALPHABET)
    assert "ann" not in queries
    assert all(edit_kind("anna", q) for q in queries)


# Retrieval.


def test_rank_hand_worked():
    scores = [0.9, 0.5, 0.9, 0.95, 0.1]
    assert [rank(scores, c) for c in range(5)] == [3, 4, 3, 1, 5]


def test_evaluate_hand_worked():
    """Two-dimensional 'embeddings' chosen so every figure is known."""

    class Table(Projected):
        def __init__(self, table):
            self.table = table

        def embed(self, name):
            return self.table[name]

    table = {
        "a": [1.0, 0.0],
        "b": [0.0, 1.0],
        "c": [-1.0, 0.0],
        "a?": [0.6, 0.8],  # nearest to b (0.8), then a (0.6): rank 2
        "b?": [0.0, 1.0],  # b exactly: rank 1
    }
    result = evaluate(
        Table(table),
        ["a", "b", "c"],
        ["a", "b"],
        ["a?", "b?"],
        [("a", "b"), ("a", "c")],
    )
    assert result["top1"] == 0.5
    assert result["top5"] == 1.0
    assert result["positive"] == pytest.approx((0.6 + 1.0) / 2)
    assert result["random"] == pytest.approx((0.0 - 1.0) / 2)


def test_counts_scorer_is_the_cosine():
    counts = Counts()
    names = ["anna", "hanna", "bob", "zoë"]
    vectors = [counts.embed(n) for n in names]
    q = counts.embed("ana")
    scores = counts.scorer(vectors)(q)
    for s, v in zip(scores, vectors):
        assert s == pytest.approx(counts.similarity(q, v))
    assert counts.similarity(vectors[0], vectors[0]) == pytest.approx(1.0)


def test_random_pairs_are_distinct_and_seeded():
    pairs = random_pairs(["a", "b", "c"], 20, random.Random(0))
    assert all(a != b for a, b in pairs)
    assert pairs == random_pairs(["c", "b", "a"], 20, random.Random(0))
    assert random_pairs(["a", "a"], 5, random.Random(0)) == []


# Training.


@pytest.fixture(scope="module")
def short_run():
    names, held_out = split(load_names())
    rng = random.Random(0)
    W0 = random_projection(32, rng=rng)
    W = [col[:] for col in W0]
    losses = train(W, names, 120, 32, 0.1, 1.0, rng)
    return W0, W, losses, held_out


def test_seeded_short_run_loss_falls(short_run):
    _, _, losses, _ = short_run
    first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    assert last < 0.6 * first


def test_training_is_seeded():
    names = split(load_names())[0][:500]
    runs = []
    for _ in range(2):
        rng = random.Random(5)
        W = random_projection(8, n_features=256, rng=rng)
        runs.append((train(W, names, 15, 8, 0.1, 1.0, rng), W))
    assert runs[0] == runs[1]


def test_short_run_beats_its_random_start(short_run):
    W0, W, _, held_out = short_run
    names = load_names()
    targets = held_out[:120]
    alphabet = sorted(set("".join(names)))
    rng = random.Random(1)
    queries = typo_queries(targets, names, rng, alphabet)
    pairs = random_pairs(targets, 100, rng)
    learned = evaluate(Projected(W), names, targets, queries, pairs)
    start = evaluate(Projected(W0), names, targets, queries, pairs)
    assert learned["top1"] > start["top1"] + 0.1
    assert learned["random"] < start["random"]


def test_train_rejects_bad_arguments():
    W = random_projection(4, n_features=16)
    with pytest.raises(ValueError, match="batch"):
        train(W, ["a", "b"], 1, 3, 0.1, 1.0, random.Random(0))
    with pytest.raises(ValueError, match="batch"):
        train(W, ["a", "b"], 1, 1, 0.1, 1.0, random.Random(0))
    with pytest.raises(ValueError, match="temperature"):
        train(W, ["a", "b"], 1, 2, 0.0, 1.0, random.Random(0))


# The recorded full run.


def test_recorded_run_is_current_and_meets_the_targets():
    from benchmarks.common import fingerprint
    from benchmarks.embedding import INPUTS

    text = (ROOT / "benchmarks/results/embedding.txt").read_text()
    assert f"fingerprint: {fingerprint(INPUTS)}" in text, "re-record it"
    rows = {}
    for match in re.finditer(
        r"^  (\w+) (?:projection|n-gram counts) .*?"
        r"([\d.]+)% +([\d.]+)% +(-?[\d.]+) +(-?[\d.]+)$",
        text,
        re.M,
    ):
        rows[match[1]] = [float(v) for v in match.groups()[1:]]
    assert set(rows) == {"learned", "random", "raw"}
    assert rows["learned"][0] >= rows["random"][0] + 15
    assert rows["learned"][2] > 0.8
    assert rows["learned"][3] < 0.3
    seconds = float(re.search(r"^wall time: ([\d.]+)s", text, re.M)[1])
    assert seconds <= 60


# The command line.


def cli(*args):
    return run_micro("embedding", *args)


def names_file(tmp_path, content):
    path = tmp_path / "names.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--temperature", "0"], "must be a finite number > 0"),
        (["--temperature", "-1"], "must be a finite number > 0"),
        (["--temperature", "nan"], "must be a finite number > 0"),
        (["--temperature", "warm"], "expected a number"),
        (["--steps", "-3"], "must be at least 1"),
        (["--dim", "0"], "must be at least 1"),
        (["--batch", "1"], "at least 2"),
        (["--data", "/no/such/file.txt"], "no such file"),
    ],
)
def test_cli_bad_options(args, message):
    assert_usage_error(cli(*args), "embedding", message)


@pytest.mark.parametrize(
    "content, message",
    [
        ("café\n".encode("latin-1"), "not UTF-8"),
        ("\n  \n", "the file is empty"),
        ("anna\n", "at least two different items"),
        ("a\naa\naaa\naaaa\n", "two different characters"),
    ],
)
def test_cli_bad_data(tmp_path, content, message):
    result = cli("--data", names_file(tmp_path, content), "--batch", "2")
    assert_usage_error(result, "embedding", message)


def test_cli_batch_larger_than_data(tmp_path):
    path = names_file(tmp_path, "anna\nbob\ncleo\ndora\neve\n")
    result = cli("--data", path, "--batch", "32")
    assert_usage_error(result, "embedding", "--batch 32 needs at least 32")


def test_cli_small_unicode_file(tmp_path):
    names = ["anna", "hanna", "bob", "zoë", "김민준", "이서연", "józef", "ева"]
    names += ["maría", "søren", "a", "ab", "élodie", "chloé", "noé", "zoé"]
    path = names_file(tmp_path, "\n".join(names) + "\n")
    result = cli("--data", path, "--steps", "5", "--batch", "4", "--dim", "8")
    assert result.returncode == 0, result.stderr
    assert "names: 16 " in result.stdout
    assert "8 x 16,384 = 131,072 parameters" in result.stdout
    assert re.search(r"step 5/5 \| loss \d+\.\d{4} \| ", result.stdout)
    assert "learned projection (8)" in result.stdout


def test_cli_training_alphabet_and_held_out_size(tmp_path):
    # One training character only: no typo can be made of a training name.
    lines = ["a" * n for n in range(1, 12)] + ["b" * 24]
    path = names_file(tmp_path, "\n".join(lines) + "\n")
    result = cli("--data", path, "--batch", "2", "--steps", "3")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_repeated_lines_count_once(tmp_path):
    names = load_names()[:600]
    once = names_file(tmp_path, "\n".join(names) + "\n")
    twice = tmp_path / "twice.txt"
    twice.write_text("\n".join(names + names) + "\n")
    args = ["--steps", "5", "--batch", "8", "--dim", "8"]

    def untimed(path):
        return re.sub(r"\d+\.\ds\b", "", cli("--data", path, *args).stdout)

    assert untimed(once) == untimed(str(twice))
