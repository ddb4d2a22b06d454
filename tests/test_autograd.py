"""The autograd engine: every gradient against finite differences, reuse,
deep graphs, extreme inputs, fused against unfused nodes, the neural bigram,
the recorded benchmark and the command line."""

import gc
import math
import pathlib
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import autograd as bench
from benchmarks import common
from micro.autograd import (
    CHECKS,
    MAX_EXP,
    Value,
    bigram_counts,
    bigram_loss,
    check_report,
    cross_entropy,
    cross_entropy_unfused,
    dot,
    grad_check,
    linear,
    linear_unfused,
    logsumexp,
    mlp_init,
    mlp_loss,
    mlp_params,
    softmax,
    total,
    train_bigram,
    zero_grad,
)
from micro.prelude import Vocab, bigram_baseline, load_names, split
from tests.clitools import assert_usage_error, run_micro


ROOT = pathlib.Path(__file__).resolve().parent.parent


def grads(values):
    return [v.grad for v in values]


# Every operation against central differences.


@pytest.mark.parametrize("name, f, point", CHECKS, ids=[c[0] for c in CHECKS])
def test_every_operation_matches_finite_differences(name, f, point):
    assert grad_check(f, point) < 1e-7


@pytest.mark.parametrize(
    "f, point",
    [
        (lambda v: v[0] ** 0.5, [2.3]),
        (lambda v: v[0] ** -2, [-1.7]),
        (lambda v: v[0] ** 0, [1.7]),
        (lambda v: 3 / v[0], [-0.6]),
        (lambda v: 1 - v[0] * 2 + v[0] - 4, [0.6]),
        (lambda v: v[0].sigmoid(), [3.0]),
        (lambda v: v[0].tanh(), [-2.5]),
        (lambda v: cross_entropy(v, 0), [5.0, -3.0, 0.1, 2.0]),
        (lambda v: total(softmax(v)[:2]), [0.2, 1.0, -0.5]),
        (lambda v: dot(v, v), [0.2, 1.0, -0.5]),
        (lambda v: dot(v, [1.0, 2.0, 3.0]), [0.2, 1.0, -0.5]),
    ],
)
def test_more_points_match_finite_differences(f, point):
    assert grad_check(f, point) < 1e-7


def test_check_report_passes(capsys):
    assert check_report()
    assert "all below 1e-06: yes" in capsys.readouterr().out


def test_grad_check_catches_a_wrong_derivative():
    def wrong_exp(x):
        return Value(math.exp(x.data), (x,), (1.0,))

    assert grad_check(lambda v: wrong_exp(v[0]), [1.0]) > 0.1


def test_hand_worked_example():
    a, b, c = Value(2.0), Value(-3.0), Value(10.0)
    L = (a * b + c) ** 2
    L.backward()
    # L = e^2, e = ab + c = 4: dL/da = 2e b, dL/db = 2e a, dL/dc = 2e.
    assert (L.data, a.grad, b.grad, c.grad) == (16.0, -24.0, 16.0, 8.0)


# Random expression graphs, each node kept inside its operation's domain.

OPS = {
    "add": (2, lambda a, b, c: a + b),
    "sub": (2, lambda a, b, c: a - b),
    "mul": (2, lambda a, b, c: a * b),
    "rsub": (1, lambda a, b, c: 1.5 - a),
    "rmul": (1, lambda a, b, c: 0.5 * a),
    "neg": (1, lambda a, b, c: -a),
    "div": (2, lambda a, b, c: a / (b * b + 1)),
    "rdiv": (1, lambda a, b, c: 2 / (a * a + 0.5)),
    "square": (1, lambda a, b, c: a**2),
    "pow": (1, lambda a, b, c: (a.tanh() - 2) ** -3),
    "sqrt": (1, lambda a, b, c: (a * a + 1) ** 0.5),
    "exp": (1, lambda a, b, c: a.tanh().exp()),
    "log": (1, lambda a, b, c: (a * a + 0.1).log()),
    "tanh": (1, lambda a, b, c: a.tanh()),
    "sigmoid": (1, lambda a, b, c: a.sigmoid()),
    "total": (3, lambda a, b, c: total([a, b, c, a])),
    "dot": (3, lambda a, b, c: dot([a, b, a], [b, c, c])),
    "logsumexp": (3, lambda a, b, c: logsumexp([a, b, c])),
    "cross_entropy": (3, lambda a, b, c: cross_entropy([a, b, c, a], 1)),
}

steps = st.lists(
    st.tuples(
        st.sampled_from(sorted(OPS)),
        st.integers(0, 100),
        st.integers(0, 100),
        st.integers(0, 100),
    ),
    min_size=1,
    max_size=7,
)
points = st.lists(
    st.floats(-2.0, 2.0, allow_nan=False), min_size=3, max_size=3
)


def build(program):
    def f(inputs):
        nodes = list(inputs)
        for op, i, j, k in program:
            _, fn = OPS[op]
            picks = [nodes[n % len(nodes)] for n in (i, j, k)]
            nodes.append(fn(*picks))
        # Every node feeds the output, so reused nodes are common.
        return nodes[-1] + 0.1 * total(nodes[3:])

    return f


@settings(max_examples=150, deadline=None)
@given(steps, points)
def test_random_graphs_match_finite_differences(program, point):
    assert grad_check(build(program), point) < 1e-4


# Reuse and repeated backward calls.


def test_reuse_x_times_x_and_a_plus_a():
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0
    a = Value(5.0)
    (a + a).backward()
    assert a.grad == 2.0
    z = Value(-2.0)
    (z * z * z).backward()
    assert z.grad == 12.0


def test_shared_subexpression_feeds_several_consumers():
    u = Value(0.7)
    s = u * 2 + 1  # ds/du = 2
    out = s * s + s.exp() + s.tanh() * s
    out.backward()
    t = math.tanh(s.data)
    by_hand = (2 * s.data + math.exp(s.data) + (1 - t * t) * s.data + t) * 2
    assert u.grad == pytest.approx(by_hand, rel=1e-12)


def test_fused_nodes_with_repeated_children():
    a, b = Value(3.0), Value(5.0)
    dot([a, b], [a, a]).backward()  # a^2 + a b
    assert (a.grad, b.grad) == (11.0, 3.0)
    c = Value(2.0)
    total([c, c, c]).backward()
    assert c.grad == 3.0
    d = Value(0.3)
    cross_entropy([d, d], 0).backward()  # log 2 whatever d is
    assert d.grad == pytest.approx(0.0, abs=1e-15)


def test_backward_twice_accumulates_on_leaves_only():
    w = Value(1.0)
    h = w * 3
    y = h * h
    y.backward()
    assert (w.grad, h.grad, y.grad) == (18.0, 6.0, 1.0)
    y.backward()
    assert (w.grad, h.grad, y.grad) == (36.0, 6.0, 1.0)
    zero_grad([w])
    y.backward()
    assert w.grad == 18.0


def test_backward_of_a_leaf_and_of_two_losses():
    x = Value(2.0)
    x.backward()
    assert x.grad == 1.0
    zero_grad([x])
    (x * 3).backward()
    (x * x).backward()
    assert x.grad == 3.0 + 4.0


def test_deep_chain_has_no_recursion_error():
    xs = [Value(1.0) for _ in range(100_000)]
    s = xs[0]
    for x in xs[1:]:
        s = s + x
    s.backward()
    assert s.data == 100_000.0
    assert all(x.grad == 1.0 for x in xs)
    deep = Value(0.5)
    y = deep
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert deep.grad == 1.0
    del s, y  # freeing a deep graph must not overflow the C stack either


def test_graph_has_no_reference_cycles():
    rng = random.Random(0)
    layers = mlp_init([2, 8, 2], rng)
    xs = [[Value(rng.uniform(-1, 1)) for _ in range(2)] for _ in range(4)]
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for fused in (True, False):
            mlp_loss(layers, xs, [0, 1, 0, 1], fused).backward()
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()


# Extreme inputs.


def test_tanh_and_sigmoid_at_the_extremes():
    for x, t, s in [(1000.0, 1.0, 1.0), (-1000.0, -1.0, 0.0)]:
        v = Value(x)
        out_t, out_s = v.tanh(), v.sigmoid()
        assert (out_t.data, out_s.data) == (t, s)
        (out_t + out_s).backward()
        assert v.grad == 0.0
    assert Value(0.0).sigmoid().data == 0.5


@pytest.mark.parametrize(
    "make, error, op",
    [
        (lambda: Value(1000.0).exp(), ValueError, "exp"),
        (lambda: Value(MAX_EXP + 0.01).exp(), ValueError, "exp"),
        (lambda: Value(0.0).log(), ValueError, "log"),
        (lambda: Value(-1.0).log(), ValueError, "log"),
        (lambda: Value(1e-320).log(), ValueError, "log"),
        (lambda: Value(-8.0) ** 0.5, ValueError, "pow"),
        (lambda: Value(-8.0) ** (1 / 3), ValueError, "pow"),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, "pow"),
        (lambda: Value(0.0) ** 0.5, ValueError, "pow"),
        (lambda: Value(1e200) ** 2, ValueError, "pow"),
        (lambda: Value(2.0) ** math.inf, ValueError, "pow"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, "div"),
        (lambda: Value(1.0) / Value(0.0), ZeroDivisionError, "div"),
        (lambda: 1 / Value(0.0), ZeroDivisionError, "div"),
        (lambda: Value(1.0) / 1e-200, ValueError, "div"),
    ],
)
def test_errors_name_the_operation(make, error, op):
    with pytest.raises(error, match=rf"^{op}: "):
        make()


def test_exp_just_inside_the_range_and_negative_integer_powers():
    assert math.isfinite(Value(MAX_EXP - 0.01).exp().data)
    assert (Value(-2.0) ** 3).data == -8.0
    assert (Value(-2.0) ** 2.0).data == 4.0
    assert (Value(0.0) ** 2).data == 0.0


def test_overflow_and_bad_values_are_refused():
    with pytest.raises(ValueError, match="float range"):
        Value(1e200) * Value(1e200)
    with pytest.raises(ValueError, match="finite"):
        Value(math.nan)
    with pytest.raises(ValueError, match="finite"):
        Value(-math.inf)
    with pytest.raises(ValueError, match="too large"):
        Value(10**400)
    with pytest.raises(TypeError, match="str"):
        Value("1.0")
    with pytest.raises(TypeError):
        Value(1.0) + "a"
    with pytest.raises(TypeError):
        Value(2.0) ** Value(2.0)
    with pytest.raises(TypeError, match="dot"):
        dot([Value(1.0)], ["x"])
    assert Value(3).data == 3.0 and type(Value(True).data) is float


def test_fused_nodes_reject_misuse():
    with pytest.raises(ValueError, match="dot: lengths differ"):
        dot([Value(1.0)], [Value(1.0), Value(2.0)])
    with pytest.raises(ValueError, match="logsumexp"):
        logsumexp([])
    for target in (3, -1, 1.0, None):
        with pytest.raises(ValueError, match="target"):
            cross_entropy([Value(1.0), Value(2.0), Value(3.0)], target)
    assert total([]).data == 0.0


def test_cross_entropy_of_extreme_logits_is_finite():
    z = [Value(1000.0), Value(-1000.0), Value(0.0)]
    for target, loss in [(0, 0.0), (1, 2000.0), (2, 1000.0)]:
        zero_grad(z)
        out = cross_entropy(z, target)
        out.backward()
        assert out.data == pytest.approx(loss, abs=1e-12)
        assert all(math.isfinite(g) for g in grads(z))
    assert logsumexp(z).data == 1000.0
    assert [p.data for p in softmax(z)] == [1.0, 0.0, 0.0]


# Fused nodes against their unfused equivalents.


def random_values(rng, n, scale=2.0):
    return [Value(rng.uniform(-scale, scale)) for _ in range(n)]


def compare(fused_fn, plain_fn, values):
    zero_grad(values)
    fused = fused_fn(values)
    fused.backward()
    g_fused = grads(values)
    zero_grad(values)
    plain = plain_fn(values)
    plain.backward()
    assert fused.data == pytest.approx(plain.data, abs=1e-12)
    for a, b in zip(g_fused, grads(values)):
        assert a == pytest.approx(b, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_fused_equal_unfused(seed):
    rng = random.Random(seed)
    v = random_values(rng, 12)
    compare(total, lambda v: sum(v), v)
    compare(
        lambda v: dot(v[:6], v[6:]),
        lambda v: sum(a * b for a, b in zip(v[:6], v[6:])),
        v,
    )
    compare(
        lambda v: dot(v[:6], v[3:9]),
        lambda v: sum(a * b for a, b in zip(v[:6], v[3:9])),
        v,
    )
    compare(logsumexp, lambda v: sum(x.exp() for x in v).log(), v)
    for target in (0, 5, 11):
        compare(
            lambda v, t=target: cross_entropy(v, t),
            lambda v, t=target: cross_entropy_unfused(v, t),
            v,
        )
    compare(
        lambda v: softmax(v)[3],
        lambda v: v[3].exp() / sum(x.exp() for x in v),
        v,
    )


def test_fused_dot_is_bit_identical_to_the_chain():
    rng = random.Random(3)
    w, x = random_values(rng, 64), random_values(rng, 64)
    assert dot(w, x).data == sum(a * b for a, b in zip(w, x)).data


def test_linear_and_mlp_fused_equal_unfused():
    rng = random.Random(0)
    W = [random_values(rng, 5) for _ in range(3)]
    x, b = random_values(rng, 5), random_values(rng, 3)
    fused, plain = linear(W, x, b), linear_unfused(W, x, b)
    assert [y.data for y in fused] == [y.data for y in plain]
    layers = mlp_init([2, 6, 6, 3], rng)
    params = mlp_params(layers)
    xs = [random_values(rng, 2) for _ in range(5)]
    ys = [0, 1, 2, 1, 0]
    results = []
    for fused in (True, False):
        zero_grad(params)
        loss = mlp_loss(layers, xs, ys, fused)
        loss.backward()
        results.append((loss.data, grads(params)))
    assert results[0][0] == pytest.approx(results[1][0], abs=1e-14)
    for a, b in zip(results[0][1], results[1][1]):
        assert a == pytest.approx(b, abs=1e-14)
    # Inputs may be plain numbers too.
    plain_x = [[v.data for v in x] for x in xs]
    assert mlp_loss(layers, plain_x, ys).data == results[0][0]


# The neural bigram.


def test_grouped_loss_is_the_mean_over_every_bigram():
    names = ["emma", "ava", "eve", "amy"]
    vocab = Vocab.from_items(names)
    counts = bigram_counts(names, vocab)
    N = sum(map(sum, counts))
    rng = random.Random(1)
    W = [random_values(rng, len(vocab), 1.0) for _ in range(len(vocab))]
    each = [
        cross_entropy(W[a], b)
        for name in names
        for a, b in zip(vocab.encode(name), vocab.encode(name)[1:])
    ]
    assert N == len(each) == 17
    compare(
        lambda _: bigram_loss(W, counts, N),
        lambda _: total(each) / len(each),
        [w for row in W for w in row],
    )


def test_bigram_loss_falls_and_is_seeded():
    train, _ = split(load_names())
    _, _, losses = train_bigram(train, steps=30, lr=50.0, seed=3)
    assert losses[0] > 3.0
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < losses[0] - 0.5
    _, _, again = train_bigram(train, steps=30, lr=50.0, seed=3)
    assert again == losses


def test_bigram_reaches_the_count_model():
    train, val = split(load_names())
    _, _, losses = train_bigram(train)  # the chapter's default run
    mle = bigram_baseline(train, val)["train_mle"]
    assert mle < losses[-1] < mle + 0.01


# The recorded benchmark.


def recorded():
    return (common.RESULTS / "autograd.txt").read_text(encoding="utf-8")


def test_recording_is_current():
    text = recorded()
    match = re.search(r"^fingerprint: (\w+) ", text, re.M)
    assert match, "no fingerprint line"
    assert match[1] == common.fingerprint(bench.INPUTS), (
        "benchmarks/results/autograd.txt measured other code: "
        "re-run python -m benchmarks.autograd --record"
    )
    assert re.search(r"^machine: .+ cores", text, re.M)


def test_recorded_targets():
    text = recorded()
    for workload in ("64x64 layer", "2-32-32-2 MLP step"):
        row = re.search(rf"^  {workload}.*$", text, re.M)[0].split()
        speedup, diff = float(row[-2].rstrip("x")), float(row[-1])
        assert speedup >= 5, row
        assert diff <= 1e-15, row
    fused = re.search(
        r"^  micro, fused nodes\s+([\d.]+)\s+([\d.]+)", text, re.M
    )
    closure = re.search(r"^  closures, .*?\s([\d.]+)x$", text, re.M)
    fused_ratio = float(fused[1]) / float(fused[2])
    assert fused_ratio < 1.5
    # The design, not the collector's schedule, makes the difference.
    assert float(closure[1]) > max(2.0, 2 * fused_ratio)
    assert "closure engine gradients equal micro's: yes" in text


def test_benchmark_closure_engine_matches_micro():
    rng = random.Random(0)
    layers = mlp_init([2, 4, 2], rng)
    xs = [random_values(rng, 2) for _ in range(3)]
    c_layers, c_xs = bench.closure_copy(layers, xs)
    params = mlp_params(layers)
    zero_grad(params)
    mlp_loss(layers, xs, [0, 1, 1], fused=False).backward()
    g_closure = bench.closure_step(c_layers, c_xs, [0, 1, 1])
    assert g_closure == pytest.approx(grads(params), abs=1e-15)


# The command line.


def micro(*args):
    return run_micro("autograd", *args)


def test_cli_runs_on_a_names_file(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("anna\nbob\ncarla\ndave\nemma\nfrank\ngina\n")
    result = micro("--data", path, "--steps", "5", "--lr", "2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "all below 1e-06: yes" in out
    assert "64x64 layer" in out and "gc on" in out
    assert re.search(r"^step 5/5 \| loss \d\.\d{4} \| \d+\.\ds$", out, re.M)
    assert "count bigram (unsmoothed)" in out


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--steps", "0"], "--steps"),
        (["--steps", "x"], "--steps"),
        (["--lr", "-1"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--lr", "inf"], "--lr"),
        (["--data", "/no/such/file.txt"], "no such file"),
        (["--seed", "x"], "--seed"),
    ],
)
def test_cli_bad_input_exits_2(args, needle):
    assert_usage_error(micro(*args), "autograd", needle)


@pytest.mark.parametrize(
    "data, needle",
    [(b"caf\xe9\n", "not UTF-8"), (b"\n  \n", "empty"), (b"anna\n", "two")],
)
def test_cli_bad_data_exits_2(tmp_path, data, needle):
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    assert_usage_error(micro("--data", path), "autograd", needle)


def test_linear_rejects_mismatched_shapes():
    W = [[Value(1.0), Value(2.0)]]
    for layer in (linear, linear_unfused):
        with pytest.raises(ValueError, match="row 0 of W has 2 weights"):
            layer(W, [Value(1.0)], [Value(0.0)])
        with pytest.raises(ValueError, match="W has 1 rows, b has 2"):
            layer(W, [Value(1.0)] * 2, [Value(0.0)] * 2)


def test_overflowing_slopes_raise():
    with pytest.raises(ValueError, match="div: the gradient"):
        Value(0.0) / Value(1e-310)
    with pytest.raises(ValueError, match="pow: the slope"):
        Value(2.0) ** 1023.5
