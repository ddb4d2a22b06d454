"""word2vec: hand-derived gradients, stable numerics, determinism, the
held-out pair test, a short seeded run that learns, the command line, and
the recorded benchmark."""

import math
import os
import random
import re
import subprocess
import sys
from collections import Counter

import pytest

from benchmarks import common
from benchmarks import word2vec as bench
from micro.prelude import InputError, load_docstrings, split
from micro.word2vec import (
    PMI,
    SGNS,
    Vocabulary,
    draw,
    fast_sgd_step,
    heldout_negatives,
    heldout_pairs,
    init_vectors,
    keep_probabilities,
    log_sigmoid,
    pair_auc,
    paired_auc,
    reiterable,
    sgd_step,
    sgns_grads,
    sigmoid,
    skipgram_pairs,
    subsample,
    train,
    unigram_weights,
    words,
)
from tests.clitools import assert_usage_error, run_micro


ROOT = common.ROOT


def loss_of(v, us):
    return sgns_grads(v, us)[0]


def numeric_grad(f, x, eps=1e-6):
    out = []
    for i in range(len(x)):
        plus, minus = x[:], x[:]
        plus[i] += eps
        minus[i] -= eps
        out.append((f(plus) - f(minus)) / (2 * eps))
    return out


@pytest.mark.parametrize("seed, scale", [(0, 1.0), (1, 0.3), (2, 2.0)])
def test_gradients_match_finite_differences(seed, scale):
    rng = random.Random(seed)
    d, k = 6, 4
    v = [rng.gauss(0, scale) for _ in range(d)]
    us = [[rng.gauss(0, scale) for _ in range(d)] for _ in range(k + 1)]
    loss, grad_v, g = sgns_grads(v, us)
    assert loss == pytest.approx(loss_of(v, us))

    # input vector
    num = numeric_grad(lambda x: loss_of(x, us), v)
    assert grad_v == pytest.approx(num, rel=1e-5, abs=1e-7)

    # true context (j = 0) and every negative (j >= 1): g_j * v
    for j in range(k + 1):

        def f(x, j=j):
            return loss_of(v, us[:j] + [x] + us[j + 1 :])

        num = numeric_grad(f, us[j])
        assert [g[j] * a for a in v] == pytest.approx(num, rel=1e-5, abs=1e-7)


def test_loss_matches_definition():
    v, us = [0.5, -1.0], [[1.0, 0.2], [0.3, 0.4], [-2.0, 1.0]]
    s = [sum(a * b for a, b in zip(u, v)) for u in us]
    expected = -math.log(1 / (1 + math.exp(-s[0])))
    expected -= sum(math.log(1 / (1 + math.exp(x))) for x in s[1:])
    assert sgns_grads(v, us)[0] == pytest.approx(expected, rel=1e-12)


def test_sgd_step_applies_the_gradients():
    rng = random.Random(3)
    W_in, W_out = init_vectors(5, 4, rng)
    W_in = [[x * 10 for x in row] for row in W_in]
    before_in, before_out = [r[:] for r in W_in], [r[:] for r in W_out]
    outputs, lr = [1, 2, 2, 4], 0.3  # a repeated negative: gradients add
    loss, grad_v, g = sgns_grads(W_in[0], [W_out[o] for o in outputs])
    assert sgd_step(W_in, W_out, 0, outputs, lr) == loss
    assert W_in[0] == pytest.approx(
        [a - lr * b for a, b in zip(before_in[0], grad_v)]
    )
    expected = {o: before_out[o][:] for o in outputs}
    for o, g_j in zip(outputs, g):
        old = expected[o]
        expected[o] = [a - lr * g_j * b for a, b in zip(old, before_in[0])]
    for o in outputs:
        assert W_out[o] == pytest.approx(expected[o])
    assert W_out[3] == before_out[3]


@pytest.mark.parametrize("seed", range(20))
def test_fast_sgd_step_equals_sgd_step(seed):
    rng = random.Random(seed)
    V, d = 6, 5
    W_in, W_out = init_vectors(V, d, rng)
    # scores from tiny to about +-800, where only a stable form is finite
    scale = [1.0, 10.0, 100.0][seed % 3]
    W_in = [[x * scale for x in row] for row in W_in]
    W_out = [[x * scale for x in row] for row in W_out]
    fast_in, fast_out = [r[:] for r in W_in], [r[:] for r in W_out]
    centre = rng.randrange(V)
    # repeated words among the outputs on purpose: [k + 1] with k up to 5
    outputs = [rng.randrange(V) for _ in range(rng.randint(1, 6))]
    lr = rng.choice([0.0, 0.1, 0.5])
    loss = sgd_step(W_in, W_out, centre, outputs, lr)
    fast_loss = fast_sgd_step(fast_in, fast_out, centre, outputs, lr)
    assert fast_loss == loss and math.isfinite(loss)
    assert fast_in == W_in and fast_out == W_out


@pytest.mark.parametrize("x", [800.0, -800.0, 1e308, -1e308, 745.2, -745.2])
def test_log_sigmoid_and_sigmoid_are_stable(x):
    value = log_sigmoid(x)
    assert math.isfinite(value)
    assert value <= 0
    if x < -50:
        assert value == pytest.approx(x)
    else:
        assert value == pytest.approx(0.0, abs=1e-300)
    assert 0.0 <= sigmoid(x) <= 1.0


def test_log_sigmoid_known_values():
    assert log_sigmoid(0.0) == pytest.approx(-math.log(2))
    assert log_sigmoid(1.0) == pytest.approx(-math.log1p(math.exp(-1)))
    assert log_sigmoid(-30.0) == pytest.approx(-30 - math.log1p(math.exp(-30)))
    assert sigmoid(2.0) + sigmoid(-2.0) == pytest.approx(1.0)


@pytest.mark.parametrize("score", [800.0, -800.0])
def test_extreme_scores_give_finite_loss_and_gradients(score):
    d = 8
    v = [math.sqrt(abs(score) / d)] * d
    sign = 1.0 if score > 0 else -1.0
    us = [[sign * x for x in v], [-sign * x for x in v], [sign * x for x in v]]
    loss, grad_v, g = sgns_grads(v, us)
    assert math.isfinite(loss) and all(map(math.isfinite, grad_v + g))
    # true pair at +800 costs nothing; a negative at +800 costs about 800
    assert loss == pytest.approx(800.0 if score > 0 else 1600.0, rel=1e-9)
    W_in, W_out = [v[:]], [u[:] for u in us]
    sgd_step(W_in, W_out, 0, [0, 1, 2], 0.1)
    assert all(math.isfinite(x) for row in W_in + W_out for x in row)


def test_words_tokenizer():
    assert words("Don't use max_len, café 42x!") == [
        "don",
        "t",
        "use",
        "max",
        "len",
        "caf",
        "x",
    ]
    with pytest.raises(TypeError, match="must be a str"):
        words(b"bytes")


def test_vocabulary_order_and_min_count():
    vocab = Vocabulary(Counter({"b": 3, "a": 3, "c": 5, "d": 1, "e": 2}), 2)
    assert vocab.words == ["c", "a", "b", "e"]
    assert vocab.counts == [5, 3, 3, 2]
    assert vocab.total == 13
    assert Vocabulary(Counter({"x": 1}), 2).words == []
    assert vocab.encode("d a zz c") == [1, 0]
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="min_count"):
            Vocabulary(Counter(), bad)


VOCAB_SCRIPT = (
    "import hashlib\n"
    "from micro.prelude import load_docstrings\n"
    "from micro.word2vec import Vocabulary\n"
    "v = Vocabulary.build(load_docstrings()[:800], 2)\n"
    "print(hashlib.sha256(' '.join(v.words).encode()).hexdigest(), len(v))\n"
)


def test_vocabulary_is_identical_across_hash_seeds():
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        result = subprocess.run(
            [sys.executable, "-c", VOCAB_SCRIPT],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1


def test_subsampling_probability_known_value():
    vocab = Vocabulary(Counter({"the": 40, "cat": 1, "x": 959}), 1)
    keep = dict(zip(vocab.words, keep_probabilities(vocab, 1e-3)))
    # f(the) = 40 / 1000: keep sqrt(1e-3 / 0.04) = 0.158113883...
    assert keep["the"] == pytest.approx(0.15811388300841897)
    assert keep["cat"] == 1.0  # f = 1e-3 = t exactly
    assert keep["x"] == pytest.approx(math.sqrt(1e-3 / 0.959))
    rng = random.Random(0)
    the = vocab.index["the"]
    kept = sum(
        len(subsample([the] * 100, keep_probabilities(vocab, 1e-3), rng))
        for _ in range(200)
    )
    assert kept / 20000 == pytest.approx(0.1581, abs=0.01)
    # the default threshold, t = 1e-2: sqrt(1e-2 / 0.04) = 0.5
    assert dict(zip(vocab.words, keep_probabilities(vocab)))["the"] == 0.5
    with pytest.raises(ValueError, match="sample"):
        keep_probabilities(vocab, 0)


def test_negative_distribution_is_count_to_three_quarters():
    vocab = Vocabulary(Counter({"a": 81, "b": 16, "c": 1}), 1)
    cum = unigram_weights(vocab, 0.75)
    weights = [b - a for a, b in zip([0.0] + cum, cum)]
    assert weights == pytest.approx([27.0, 8.0, 1.0])
    drawn = Counter(draw(cum, random.Random(0), 36_000))
    for i, w in enumerate((27, 8, 1)):
        assert drawn[i] / 36_000 == pytest.approx(w / 36, abs=0.01)
    assert unigram_weights(vocab, 1.0) == [81, 97, 98]


def test_one_shot_iterators_are_rejected():
    docs = ["a b", "b c"]
    for one_shot in ((d for d in docs), iter(docs), map(str, docs)):
        with pytest.raises(TypeError, match="one-shot iterator"):
            reiterable(one_shot)
        with pytest.raises(TypeError, match="one-shot iterator"):
            Vocabulary.build(one_shot, 1)
    with pytest.raises(TypeError, match="iterable of str"):
        reiterable(42)

    class Shelf:
        def __iter__(self):
            return iter(docs)

    vocab = Vocabulary.build(docs, 1)
    for ok in (docs, tuple(docs), Shelf()):
        assert reiterable(ok) is ok
        model = train(ok, vocab, dim=4, epochs=2, seed=0)
        assert len(model.W_in) == 3
    assert reiterable("one doc") == ["one doc"]


def test_one_shot_iterator_would_train_on_nothing():
    """Why the check exists: a generator is empty on its second pass."""
    gen = (d for d in ["a b"])
    assert list(gen) == ["a b"] and list(gen) == []


def test_skipgram_pairs():
    assert skipgram_pairs([1, 2, 3], 1) == [(1, 2), (2, 1), (2, 3), (3, 2)]
    assert len(skipgram_pairs(list(range(10)), 2)) == 2 * (9 + 8)
    assert skipgram_pairs([7], 2) == [] and skipgram_pairs([], 2) == []


def test_paired_auc_hand_worked():
    assert paired_auc([3, 2, 1], [0, 0, 0]) == 1.0
    assert paired_auc([0, 0], [1, 1]) == 0.0
    assert paired_auc([1, 1], [1, 1]) == 0.5
    assert paired_auc([2, 1, 0, 5], [1, 1, 1, 1]) == 0.625
    with pytest.raises(ValueError, match="no pairs"):
        paired_auc([], [])
    with pytest.raises(ValueError, match="negative scores"):
        paired_auc([1], [])


def test_pmi_hand_worked():
    vocab = Vocabulary.build(["a b", "a c"], 1)  # a, b, c
    pmi = PMI(["a b", "a c"], vocab, window=1)
    a, b, c = (vocab.index[w] for w in "abc")
    # pairs (a,b) (b,a) (a,c) (c,a): D = 4, #a = 2, #b = #c = 1
    assert pmi.score(a, b) == pytest.approx(math.log(1 * 4 / (2 * 1)))
    assert pmi.unseen == pytest.approx(math.log(2) - 1)
    assert pmi.score(b, c) == pmi.unseen < pmi.score(a, b)


@pytest.fixture(scope="module")
def small_run():
    train_docs, heldout_docs = split(load_docstrings()[:1500])
    vocab = Vocabulary.build(train_docs, 3)
    losses = []

    class Recorder:
        def due(self, step):
            return True

        def log(self, step, loss):
            losses.append(loss)

    model = train(train_docs, vocab, epochs=3, seed=1, progress=Recorder())
    pairs = heldout_pairs(heldout_docs, vocab)
    negatives = heldout_negatives(pairs, vocab, seed=1)
    return vocab, model, losses, pairs, negatives, train_docs


def test_seeded_short_run_learns(small_run):
    vocab, model, losses, pairs, negatives, train_docs = small_run
    n = len(losses) // 3
    first, last = losses[:50], losses[-n:]
    # k = 1: the loss starts near 2 log 2 = 1.386 and must fall clearly
    assert sum(last) / len(last) < sum(first) / len(first) - 0.1
    assert all(math.isfinite(x) for x in losses)
    untrained = SGNS(vocab, *init_vectors(len(vocab), 32, random.Random(1)))
    trained_auc = pair_auc(model.score, pairs, negatives)
    random_auc = pair_auc(untrained.score, pairs, negatives)
    freq_auc = pair_auc(lambda w, c: vocab.counts[c], pairs, negatives)
    assert abs(random_auc - 0.5) < 0.03
    assert abs(freq_auc - 0.5) < 0.05
    assert trained_auc > random_auc + 0.04


def test_untrained_model_is_train_starting_point():
    docs = ["a b c a b", "c a b"]
    vocab = Vocabulary.build(docs, 1)
    start = init_vectors(len(vocab), 4, random.Random(5))
    # zero learning rate: train must leave its starting point unchanged
    model = train(docs, vocab, dim=4, epochs=1, lr=0.0, seed=5)
    assert (model.W_in, model.W_out) == start


def test_same_seed_same_vectors():
    docs = load_docstrings()[:60]
    vocab = Vocabulary.build(docs, 2)
    one = train(docs, vocab, dim=8, epochs=1, seed=4)
    two = train(docs, vocab, dim=8, epochs=1, seed=4)
    assert one.W_in == two.W_in and one.W_out == two.W_out


def test_empty_inputs_are_named():
    vocab = Vocabulary.build(["a b"], 5)
    with pytest.raises(InputError, match="vocabulary is empty"):
        train(["a b"], vocab)


def cli(*args, **kwargs):
    return run_micro("word2vec", *args, **kwargs)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "must be at least 1"),
        (["--dim", "x"], "expected a whole number"),
        (["--negatives", "-2"], "must be at least 1"),
        (["--min-count", "1.5"], "expected a whole number"),
        (["--data", "/no/such/file.txt"], "no such file"),
    ],
)
def test_cli_bad_options(args, message):
    assert_usage_error(cli(*args), "word2vec", message)


def test_cli_bad_files(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    rare = tmp_path / "rare.txt"
    rare.write_text("\n\n".join(f"word{i} alpha{i}" for i in range(40)))
    for path, message in [
        (latin, "not UTF-8"),
        (empty, "empty"),
        (rare, "no word occurs"),
    ]:
        result = cli("--data", str(path), "--min-count", "50")
        assert_usage_error(result, "word2vec", message)


def test_cli_small_file_runs(tmp_path):
    path = tmp_path / "tiny.txt"
    docs = load_docstrings()[:300]
    path.write_text("\n\n".join(docs), encoding="utf-8")
    result = cli(
        "--data", str(path), "--epochs", "1", "--dim", "8", "--min-count", "3"
    )
    assert result.returncode == 0, result.stderr
    assert "held-out pair AUC" in result.stdout
    assert re.search(
        r"^step +\d+/\d+ \| loss \d+\.\d{4} \| ", result.stdout, re.M
    )
    assert "| word | nearest neighbours (cosine) |" in result.stdout


# The recorded benchmark: current for the code, and on target.


def recorded():
    return (common.RESULTS / "word2vec.txt").read_text(encoding="utf-8")


def test_recording_is_current():
    text = recorded()
    match = re.search(r"^fingerprint: (\w+) ", text, re.M)
    assert match and match[1] == common.fingerprint(bench.INPUTS), (
        "benchmarks/results/word2vec.txt measured other code or data: "
        "re-run python -m benchmarks.word2vec --record"
    )


def aucs(section):
    return {
        name: float(value)
        for name, value in re.findall(
            r"^  (trained vectors|untrained vectors|context frequency|PMI)"
            r"[^\n]*? (\d\.\d{4})$",
            section,
            re.M,
        )
    }


def test_recorded_targets():
    text = recorded()
    default, longer = text.split("longer run:")
    seconds = [float(s) for s in re.findall(r"CPU time ([\d.]+)s", text)]
    assert seconds[0] <= 60 and seconds[1] <= 300
    d, long_ = aucs(default), aucs(longer)
    names = {"trained vectors", "untrained vectors", "context frequency"}
    assert set(d) == set(long_) == names | {"PMI"}
    assert d["trained vectors"] >= 0.62
    assert d["trained vectors"] >= d["context frequency"] + 0.10
    assert abs(d["untrained vectors"] - 0.5) < 0.02
    assert long_["trained vectors"] > d["trained vectors"]


def test_recorded_longer_run_is_close_to_pmi():
    longer = recorded().split("longer run:")[1]
    assert aucs(longer)["trained vectors"] >= aucs(longer)["PMI"] - 0.03


def test_chapter_shows_the_recorded_longer_command():
    command = re.search(r"^longer run: \$ (.+)$", recorded(), re.M)[1]
    chapter = (ROOT / "book" / "word2vec.md").read_text(encoding="utf-8")
    assert f"$ {command}\n" in chapter
