"""Tests of the GPT chapter: gradients, the fast path, training, sampling,
saving and loading, the command line, and the recorded benchmark."""

import math
import os
import random
import re

import pytest

from benchmarks.common import RESULTS, fingerprint
from micro.autograd import Value, cross_entropy, grad_check, total
from micro.gpt import (
    GPT,
    GRAD,
    Cache,
    Config,
    Reader,
    attention,
    evaluate,
    float_softmax,
    generate,
    load,
    log_softmax_at,
    novelty,
    pick,
    rmsnorm,
    samples,
    save,
    sequence_losses,
    step,
    token_losses,
    train,
    windows,
)
from micro.prelude import BOUNDARY, UNKNOWN, InputError, Vocab, mean_nll
from tests.clitools import assert_usage_error, python_output, run_micro


NAMES = ["anna", "bob", "ada", "abba", "nan", "don", "dana", "bodo"]
TINY = dict(n_embd=4, n_head=2, n_hidden=4, block_size=5)


def tiny(seed=0, names=NAMES, **sizes):
    """A small model whose output layer is random, not zero."""
    model = GPT.new(Vocab.from_items(names), seed=seed, **{**TINY, **sizes})
    rng = random.Random(seed + 100)
    for name in ("W_out", "b_out", "0.b_q", "0.b_k", "0.b_1"):
        for v in model.parameters_of(name):
            v.data = rng.gauss(0.0, 1.0)
    return model


# -- gradients against finite differences


def test_attention_block_gradients():
    config = Config(3, n_embd=4, n_head=2, block_size=3)
    names = [f"0.{w}_{s}" for s in "qkvo" for w in "Wb"]
    shapes = dict(config.shapes())
    sizes = [math.prod(shapes[n]) for n in names]
    coeffs = [0.3, -1.1, 0.7, 2.0]
    rng = random.Random(0)
    inputs = [rng.gauss(0.0, 1.0) for _ in range(sum(sizes) + 3 * 4)]

    def f(xs):
        w, i = {}, 0
        for name, size in zip(names, sizes):
            part = xs[i : i + size]
            i += size
            shape = shapes[name]
            w[name] = (
                [
                    part[r * shape[1] : (r + 1) * shape[1]]
                    for r in range(shape[0])
                ]
                if len(shape) == 2
                else part
            )
        cache, outs = Cache(1), []
        for t in range(3):  # three positions: causal weights over 1, 2, 3
            x = xs[i + 4 * t : i + 4 * t + 4]
            o = attention(config, w, GRAD, 0, x, cache)
            outs += [c * o_j for c, o_j in zip(coeffs, o)]
        return total(outs)

    assert grad_check(f, inputs) < 1e-6


def test_rmsnorm_gradients():
    def f(xs):
        y = rmsnorm(xs, GRAD)
        return total([c * y_i for c, y_i in zip([1.0, -2.0, 0.5], y)])

    assert grad_check(f, [0.3, -1.2, 2.0]) < 1e-6


def test_whole_model_gradients():
    model = tiny(block_size=4)
    ids = model.vocab.encode("abn")  # 5 tokens, 4 predictions
    start = [p.data for p in model.parameters()]

    # The inputs xs, as graph leaves, become the weight tables.
    def g(xs):
        it = iter(xs)
        w = {}
        for name, shape in model.config.shapes():
            if len(shape) == 2:
                w[name] = [
                    [next(it) for _ in range(shape[1])]
                    for _ in range(shape[0])
                ]
            else:
                w[name] = [next(it) for _ in range(shape[0])]
        cache, out = Cache(1), []
        for a, b in zip(ids, ids[1:]):
            out.append(cross_entropy(step(model.config, w, GRAD, a, cache), b))
        return total(out)

    want = total(sequence_losses(model, ids)).data
    assert g([Value(x) for x in start]).data == pytest.approx(want, abs=1e-12)
    assert grad_check(g, start) < 1e-6


# -- the fast path


def test_fast_path_equals_autograd_forward():
    model = tiny()
    w = model.floats()
    for item in ["anna", "dob", "a"]:
        ids = model.vocab.encode(item)
        slow_cache, reader = Cache(1), Reader(model, w)
        for token in ids[:-1]:
            slow = step(model.config, model.weights, GRAD, token, slow_cache)
            fast = reader.feed(token)
            assert max(abs(s.data - f) for s, f in zip(slow, fast)) < 1e-12
        slow = [x.data for x in sequence_losses(model, ids)]
        fast = token_losses(model)(ids)
        assert max(abs(a - b) for a, b in zip(slow, fast)) < 1e-12


def test_untrained_model_scores_ln_v():
    # The output layer starts at zero: every symbol has probability 1/V.
    model = GPT.new(Vocab.from_items(NAMES), seed=0, **TINY)
    assert evaluate(model, NAMES) == pytest.approx(math.log(len(model.vocab)))


def test_evaluate_is_mean_nll_over_every_token():
    model = tiny()
    ids = [model.vocab.encode(n) for n in NAMES]
    assert evaluate(model, NAMES) == mean_nll(token_losses(model), ids)
    counted = []
    mean_nll(lambda s: counted.append(len(s) - 1) or [0.0] * (len(s) - 1), ids)
    assert sum(counted) == sum(len(n) + 1 for n in NAMES)


def test_unseen_characters_are_scored_as_unknown():
    model = tiny()
    ids = model.vocab.encode("a\u00e9b")
    assert ids[2] == UNKNOWN
    assert math.isfinite(evaluate(model, ["a\u00e9b", "\u4e2d"]))


def test_reader_slides_the_window():
    model = tiny(block_size=4)
    w = model.floats()
    tokens = model.vocab.encode("abnadobanan")[:-1]
    reader = Reader(model, w)
    for t, token in enumerate(tokens):
        got = reader.feed(token)
        # The same logits from a fresh reader given only the tokens in view.
        fresh = Reader(model, w)
        view = tokens[max(0, t - 3) : t + 1]
        for old in view:
            want = fresh.feed(old)
        assert got == want
        assert len(reader.cache) <= model.config.block_size


def test_long_items_are_evaluated_and_trained():
    model = tiny(block_size=4)
    long = ["abnadobanana", "ab"]
    assert math.isfinite(evaluate(model, long))
    run = train(model, long, steps=2, batch_size=2)
    assert run.tokens > 0


def test_step_refuses_positions_past_the_window():
    model = tiny(block_size=2)
    cache = Cache(1)
    step(model.config, model.weights, GRAD, 0, cache)
    step(model.config, model.weights, GRAD, 2, cache)
    with pytest.raises(ValueError, match="past the window"):
        step(model.config, model.weights, GRAD, 3, cache)


def test_windows_predict_every_token_once():
    ids = list(range(20))
    pieces = windows(ids, 4)
    assert all(len(p) <= 5 for p in pieces)
    targets = [x for p in pieces for x in p[1:]]
    assert targets == ids[1:]
    assert windows([0, 1, 2], 4) == [[0, 1, 2]]


def test_config_rejects_bad_sizes():
    with pytest.raises(ValueError, match="multiple of n_head"):
        Config(5, n_embd=6, n_head=4)
    with pytest.raises(ValueError, match="block_size must be"):
        Config(5, block_size=0)
    with pytest.raises(ValueError, match="n_embd must be"):
        Config(5, n_embd=2.0)


def test_parameter_count_matches_the_weights():
    model = GPT.new(Vocab("abc"), seed=0)
    assert len(model.parameters()) == model.config.n_params()
    assert len(set(map(id, model.parameters()))) == model.config.n_params()


# -- training


def test_seeded_short_run_learns_and_repeats():
    def once():
        model = GPT.new(Vocab.from_items(NAMES), seed=3, **TINY)
        return train(model, NAMES, steps=25, batch_size=4, lr=0.05, seed=1)

    run = once()
    first, last = run.losses[:5], run.losses[-5:]
    assert sum(last) / 5 < sum(first) / 5 - 0.3
    assert once().losses == run.losses


def test_training_beats_the_untrained_validation_loss():
    model = GPT.new(Vocab.from_items(NAMES), seed=0, **TINY)
    before = evaluate(model, NAMES)
    train(model, NAMES, steps=30, batch_size=4, lr=0.05)
    assert evaluate(model, NAMES) < before - 0.3


# -- sampling


def test_temperature_zero_is_argmax():
    z = [0.1, 5.0, 2.0, 3.0]  # id 1 is UNKNOWN and is skipped
    assert pick(z, random.Random(0), temperature=0) == 3
    assert pick([1.0, 0.0, 1.0], random.Random(0), temperature=0) == 0
    model = tiny()
    greedy = {
        generate(model, random.Random(s), temperature=0) for s in range(5)
    }
    assert len(greedy) == 1
    top1 = generate(model, random.Random(9), top_k=1)
    assert top1 == greedy.pop()


@pytest.mark.parametrize("bad", [-1.0, -1e-9, math.nan, math.inf])
def test_bad_temperature_is_an_error(bad):
    with pytest.raises(ValueError, match="temperature"):
        pick([0.0, 0.0, 0.0], random.Random(0), temperature=bad)
    with pytest.raises(ValueError, match="temperature"):
        samples(tiny(), 1, temperature=bad)


@pytest.mark.parametrize("bad", [0, -3, 1.5])
def test_bad_top_k_is_an_error(bad):
    with pytest.raises(ValueError, match="top_k"):
        pick([0.0, 0.0, 0.0], random.Random(0), top_k=bad)


def test_top_k_larger_than_the_vocabulary_is_no_top_k():
    model = tiny()
    V = len(model.vocab)
    plain = samples(model, 30, seed=5)
    for k in (V - 1, V, V + 1, 10**6):
        assert samples(model, 30, seed=5, top_k=k) == plain
    assert samples(model, 30, seed=5, top_k=2) != plain


def test_top_k_keeps_only_the_k_best():
    z = [0.0, 9.0, 3.0, 2.0, 1.0]
    drawn = {pick(z, random.Random(s), top_k=2) for s in range(200)}
    assert drawn == {2, 3}


def test_unknown_is_never_sampled():
    z = [0.0, 1e6, 0.0]  # UNKNOWN would win every draw if allowed
    assert {pick(z, random.Random(s)) for s in range(100)} <= {0, 2}
    assert pick(z, random.Random(0), temperature=0) in (0, 2)
    model = tiny()
    model.weights["b_out"][UNKNOWN].data = 50.0
    assert all("?" not in s for s in samples(model, 50, seed=1))


def test_softmax_is_finite_for_huge_logits():
    p = float_softmax([1e308, -1e308, 1e308, 0.0])
    assert p == [0.5, 0.0, 0.5, 0.0]
    assert log_softmax_at([1e308, -1e308], 0) == 0.0
    assert math.isfinite(log_softmax_at([1e300, 0.0], 1))
    z = [1e308, 0.0, -1e308, 5.0]
    for T in (1e-300, 1.0, 1e300):
        assert pick(z, random.Random(0), temperature=T) in (0, 2, 3)


def test_generation_slides_past_the_window():
    model = tiny(block_size=3)
    model.weights["b_out"][BOUNDARY].data = -1e3  # never ends by itself
    name, cut = generate(model, random.Random(0), max_len=20)
    assert len(name) == 20 and cut


def test_a_sample_says_whether_it_was_cut_off():
    model = tiny()
    model.weights["b_out"][BOUNDARY].data = 1e3  # ends at once
    assert generate(model, random.Random(0), max_len=3) == ("", False)
    assert generate(model, random.Random(0), max_len=0) == ("", False)
    model.weights["b_out"][BOUNDARY].data = -1e3  # never ends
    assert generate(model, random.Random(0), max_len=0) == ("", True)
    # A name of exactly max_len symbols that then ends is not cut off.
    model.weights["b_out"][BOUNDARY].data = 0.0
    drawn = samples(model, 300, seed=2, max_len=3)
    assert {cut for _, cut in drawn} == {False, True}
    assert all(len(item) <= 3 for item, _ in drawn)
    assert any(len(item) == 3 and not cut for item, cut in drawn)
    assert all(len(item) == 3 for item, cut in drawn if cut)
    with pytest.raises(ValueError, match="max_len"):
        generate(model, random.Random(0), max_len=-1)


def test_novelty():
    assert novelty(["a", "b", "c", "a"], ["a"]) == 0.5
    with pytest.raises(ValueError, match="drawn is empty"):
        novelty([], ["a"])


def test_novelty_line_leaves_cut_off_samples_out():
    from micro.gpt import novelty_line, show_sample

    drawn = [("anna", False), ("zed", False), ("zed", False), ("qq", True)]
    line = novelty_line(drawn, ["anna"], 2)
    assert line.startswith("new names: 66.7% of 3 finished samples")
    assert "(1 distinct; 1 cut off at 2 characters, not counted)" in line
    assert "none of 2 samples finished" in novelty_line(
        [("a", True)] * 2, [], 1
    )
    assert show_sample("qq", True) == "qq\u2026"
    assert show_sample("", False) == "(empty)"
    assert show_sample("ab", False) == "ab"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(items=[]), "items is empty"),
        (dict(batch_size=0), "batch_size must be"),
        (dict(batch_size=True), "batch_size must be"),
        (dict(steps=0), "steps must be"),
        (dict(steps=2.0), "steps must be"),
    ],
)
def test_train_rejects_bad_arguments(kwargs, message):
    args = {"items": NAMES, "steps": 2, "batch_size": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        train(tiny(), args.pop("items"), **args)


def test_train_counts_passes_over_the_data():
    run = train(tiny(), NAMES, steps=3, batch_size=4)
    assert run.pieces == 12 and run.passes == 12 / len(NAMES)


# -- saving and loading


def test_save_load_round_trip(tmp_path):
    model = tiny()
    path = tmp_path / "m.gpt"
    save(model, path)
    again = load(path, model.vocab)
    assert again.config == model.config
    assert [p.data for p in again.parameters()] == [
        p.data for p in model.parameters()
    ]
    assert samples(again, 20, seed=4) == samples(model, 20, seed=4)
    assert os.listdir(tmp_path) == ["m.gpt"]  # no temporary file left


def test_save_respects_umask_and_replaces(tmp_path):
    path = tmp_path / "m.gpt"
    path.write_text("old")
    old = os.umask(0o027)
    try:
        save(tiny(), path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    assert load(path).vocab.chars == tiny().vocab.chars
    with pytest.raises(ValueError, match="not a file name"):
        save(tiny(), tmp_path)


def _saved(tmp_path, edit=None, rehash=True):
    from micro.gpt import checksum

    path = tmp_path / "m.gpt"
    save(tiny(), path)
    lines = path.read_text().splitlines()
    if edit is not None:
        lines = edit(lines[:-1])
        if rehash:
            lines.append(f"sha256 {checksum(lines)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_truncated_file_is_rejected(tmp_path):
    path = _saved(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    with pytest.raises(InputError, match="truncated"):
        load(path)


def test_corrupted_file_is_rejected(tmp_path):
    path = _saved(tmp_path)
    text = path.read_text()
    i = text.index("\n", text.index("wte")) + 3
    path.write_text(
        text[:i] + ("7" if text[i] != "7" else "8") + text[i + 1 :]
    )
    with pytest.raises(InputError, match="corrupted"):
        load(path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda ls: ["micro-bpe 1"] + ls[1:], "not a micro GPT file"),
        (
            lambda ls: [ls[0], ls[1].replace("n_embd 4", "n_embd 8"), *ls[2:]],
            "expected 'wte 7 8', got 'wte 7 4'",
        ),
        (lambda ls: [*ls[:2], 'vocab ["a"]', *ls[3:]], "do not make"),
        (lambda ls: [*ls[:2], "vocab [", *ls[3:]], "JSON list"),
        (lambda ls: [ls[0], "config 1 2", *ls[2:]], "expected 'config"),
        (
            lambda ls: [*ls[:4], ls[4] + " 0.5", *ls[5:]],
            "expected 4 numbers, got 5",
        ),
        (lambda ls: [*ls[:4], "1 2 x 4", *ls[5:]], "expected 4 numbers"),
        (lambda ls: [*ls[:4], "1 2 nan 4", *ls[5:]], "not a finite"),
        (lambda ls: [*ls, "0.5"], "unexpected lines"),
        (lambda ls: ls[:-3], "ends inside W_out"),
    ],
)
def test_mismatched_file_is_rejected(tmp_path, edit, message):
    path = _saved(tmp_path, edit)
    with pytest.raises(InputError, match=re.escape(message)):
        load(path)


def _config_line(**sizes):
    values = {**dict(vocab_size=7, **TINY, n_layer=1), **sizes}
    fields = ("vocab_size", "n_embd", "n_head", "n_layer", "n_hidden")
    return "config " + " ".join(
        f"{f} {values[f]}" for f in (*fields, "block_size")
    )


@pytest.mark.parametrize(
    "config, message",
    [
        (_config_line(n_layer=100_000_000), "n_layer must be a whole number"),
        (_config_line(n_layer=100_000), "expected '1.W_q 4 4'"),
        (_config_line(vocab_size="+7"), "vocab_size must be written as"),
        (_config_line(n_embd="4_0"), "n_embd must be written as"),
        (_config_line(n_head="\u0662"), "n_head must be written as"),
        (_config_line().rsplit(" ", 1)[0], "expected 'config"),
        (_config_line() + " 1", "expected 'config"),
    ],
)
def test_signed_but_bad_config_is_rejected_quickly(tmp_path, config, message):
    path = _saved(tmp_path, lambda ls: [ls[0], config, *ls[2:]])
    with pytest.raises(InputError, match=re.escape(message)):
        load(path)


def test_signed_but_extreme_weights_are_rejected(tmp_path):
    def is_row(line):
        try:
            return [float(x) for x in line.split(" ")] != []
        except ValueError:
            return False

    def huge(lines):  # every weight finite, but the largest float there is
        return [
            " ".join(["1.7e308"] * len(line.split(" ")))
            if is_row(line)
            else line
            for line in lines
        ]

    with pytest.raises(InputError, match="logits that are not finite"):
        load(_saved(tmp_path, huge))


def test_blank_line_after_the_checksum_is_named(tmp_path):
    path = _saved(tmp_path)
    path.write_text(path.read_text() + "\n\n")
    with pytest.raises(InputError, match="blank lines after the checksum"):
        load(path)


def test_wrong_vocabulary_is_rejected(tmp_path):
    path = _saved(tmp_path)
    with pytest.raises(InputError, match="vocabulary"):
        load(path, Vocab("abcdnoz"))


def test_a_missing_checksum_is_truncation(tmp_path):
    path = _saved(tmp_path, edit=lambda ls: ls, rehash=False)
    with pytest.raises(InputError, match="truncated"):
        load(path)


# -- the command line


@pytest.fixture
def names_file(tmp_path):
    from micro.prelude import load_names

    path = tmp_path / "names.txt"
    path.write_text("\n".join(load_names()[:200]) + "\n", encoding="utf-8")
    return path


def test_cli_trains_saves_and_reloads(tmp_path, names_file):
    saved = tmp_path / "m.gpt"
    args = ["gpt", "--data", names_file, "--samples", "5", "--seed", "2"]
    first = run_micro(*args, "--steps", "3", "--save", saved)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    for needle in (
        "parameters",
        "val loss",
        "add-one bigram",
        "tokens/s",
        "new names:",
        "attention weights",
        "step 3/3",
    ):
        assert needle in out
    second = run_micro(*args, "--load", saved)
    assert second.returncode == 0, second.stderr

    def sampled(text):
        return [line for line in text.splitlines() if "samples" in line]

    assert sampled(first.stdout) == sampled(second.stdout)
    assert "step" not in second.stdout


def test_cli_greedy_and_top_k(names_file):
    result = run_micro(
        "gpt",
        "--data",
        names_file,
        "--steps",
        "1",
        "--temperature",
        "0",
        "--top-k",
        "3",
        "--samples",
        "3",
    )
    assert result.returncode == 0, result.stderr
    assert "temperature 0, top-k 3" in result.stdout


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--temperature", "-1"], ["--temperature", ">= 0"]),
        (["--temperature", "nan"], ["--temperature"]),
        (["--top-k", "0"], ["--top-k", "at least 1"]),
        (["--steps", "0"], ["--steps"]),
        (["--samples", "x"], ["--samples"]),
    ],
)
def test_cli_bad_options(args, needles):
    assert_usage_error(run_micro("gpt", *args), "gpt", *needles)


def test_cli_bad_data(tmp_path):
    missing = tmp_path / "missing.txt"
    assert_usage_error(
        run_micro("gpt", "--data", missing), "gpt", "no such file"
    )
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"ab\xff\n")
    assert_usage_error(run_micro("gpt", "--data", binary), "gpt", "not UTF-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    assert_usage_error(run_micro("gpt", "--data", empty), "gpt", "empty")
    one = tmp_path / "one.txt"
    one.write_text("anna\nanna\n")
    assert_usage_error(run_micro("gpt", "--data", one), "gpt", "two different")


def test_cli_bad_files(tmp_path, names_file):
    junk = tmp_path / "junk.gpt"
    junk.write_text("hello\n")
    assert_usage_error(
        run_micro("gpt", "--data", names_file, "--load", junk),
        "gpt",
        "not a micro GPT file",
    )
    saved = tmp_path / "m.gpt"
    save(tiny(), saved)
    assert_usage_error(
        run_micro("gpt", "--data", names_file, "--load", saved),
        "gpt",
        "vocabulary",
    )
    assert_usage_error(
        run_micro("gpt", "--save", tmp_path / "no" / "m.gpt"),
        "gpt",
        "does not exist",
    )
    assert_usage_error(
        run_micro("gpt", "--save", ""), "gpt", "'': not a file name"
    )
    assert_usage_error(
        run_micro("gpt", "--load", ""), "gpt", "'': is a folder"
    )
    assert_usage_error(
        run_micro("gpt", "--load", saved, "--steps", "5"),
        "gpt",
        "--steps trains a new model",
    )


def test_cli_marks_cut_off_samples(names_file):
    result = run_micro(
        "gpt", "--data", names_file, "--steps", "1", "--samples", "20"
    )
    assert result.returncode == 0, result.stderr
    line = re.search(r"^new names: .*$", result.stdout, re.M)[0]
    cut = int(re.search(r"; ([\d,]+) cut off at \d+ characters", line)[1])
    assert cut > 0  # a model trained for one step rarely ends a name
    samples_line = re.search(r"^samples .*$", result.stdout, re.M)[0]
    assert "\u2026" in samples_line


# -- the recorded benchmark


def _recorded():
    from benchmarks.gpt import INPUTS

    path = RESULTS / "gpt.txt"
    return path.read_text(encoding="utf-8"), INPUTS


def test_benchmark_record_is_current():
    text, inputs = _recorded()
    assert f"fingerprint: {fingerprint(inputs)}" in text


def test_benchmark_targets_are_met():
    text, _ = _recorded()
    numbers = dict(re.findall(r"^target (\w+): .*?(yes|NO)$", text, re.M))
    assert numbers == {"default": "yes", "long": "yes", "speed": "yes"}


def test_runs_do_not_depend_on_the_hash_seed():
    script = (
        "from micro.gpt import GPT, samples, train\n"
        "from micro.prelude import Vocab\n"
        "names = ['anna', 'bob', 'ada', 'z\u00e9', 'nan', 'don', 'dana']\n"
        "m = GPT.new(Vocab.from_items(names), seed=0, n_embd=4, n_head=2,"
        " n_hidden=4)\n"
        "print(train(m, names, 5, batch_size=2).losses)\n"
        "print(samples(m, 5, seed=1))\n"
    )
    outputs = {python_output(script, seed) for seed in ("0", "1", "12345")}
    assert len(outputs) == 1
