"""The optimizers: hand-worked steps, Adam's first step, the step counter,
the schedule, bad arguments, divergence, the recorded comparison and the
command line."""

import io
import math
import pathlib
import random
import re

import pytest

from benchmarks import common
from benchmarks import optimizers as bench
from micro.autograd import Value
from micro.optim import (
    LRS,
    OPTIMIZERS,
    SGD,
    Adam,
    Momentum,
    RMSProp,
    Run,
    Task,
    WarmupCosine,
    best,
    bigram_task,
    compare_task,
    landscapes,
    saddle,
    train,
    valley,
)
from micro.prelude import bigram_baseline, load_names, split
from tests.clitools import assert_usage_error, run_micro


ROOT = pathlib.Path(__file__).resolve().parent.parent
RECORD = ROOT / "benchmarks" / "results" / "optimizers.txt"


def step_with(opt, grads):
    for p, g in zip(opt.params, grads):
        p.grad = g
    opt.step()
    return [p.data for p in opt.params]


# Adam's first step and the step counter.


@pytest.mark.parametrize("g", [1e-3, 0.5, 50.0, -1e-3, -50.0])
def test_adam_first_step_is_the_learning_rate(g):
    w = Value(0.0)
    (moved,) = step_with(Adam([w], lr=0.01), [g])
    assert -moved == pytest.approx(math.copysign(0.01, g), rel=1e-4)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_step_counter_counts_steps_not_parameters(name):
    params = [Value(1.0), Value(2.0), Value(3.0)]
    opt = OPTIMIZERS[name](params, 0.01)
    assert opt.t == 0
    step_with(opt, [1.0, 1.0, 1.0])
    assert opt.t == 1
    for _ in range(4):
        step_with(opt, [1.0, -1.0, 0.5])
    assert opt.t == 5


def test_adam_bias_correction_uses_the_step_count():
    # A constant gradient: m_hat = g and v_hat = g**2 at every step, so each
    # step is lr; a counter bumped per parameter would shrink later steps.
    params = [Value(0.0) for _ in range(3)]
    opt = Adam(params, lr=0.01)
    for _ in range(3):
        data = step_with(opt, [0.2, 0.2, 0.2])
    assert data == pytest.approx([-0.03] * 3, rel=1e-6)


# Hand-worked steps on w**2 (gradient 2w) from w = 1, lr 0.1.


def square_steps(opt, n):
    (w,) = opt.params
    out = []
    for _ in range(n):
        opt.zero_grad()
        (w * w).backward()
        opt.step()
        out.append(w.data)
    return out


def test_sgd_two_steps_by_hand():
    assert square_steps(SGD([Value(1.0)], 0.1), 2) == pytest.approx(
        [0.8, 0.64], abs=1e-15
    )


def test_momentum_two_steps_by_hand():
    # m = 2, w = 0.8; m = 0.9 * 2 + 1.6 = 3.4, w = 0.8 - 0.34 = 0.46
    opt = Momentum([Value(1.0)], 0.1, mu=0.9)
    assert square_steps(opt, 2) == pytest.approx([0.8, 0.46], abs=1e-15)
    assert opt.m == pytest.approx([3.4])


def test_momentum_zero_mu_is_sgd():
    a = square_steps(Momentum([Value(1.0)], 0.1, mu=0.0), 5)
    b = square_steps(SGD([Value(1.0)], 0.1), 5)
    assert a == b


def test_rmsprop_two_steps_by_hand():
    # g = 2 twice: v = 0.01 * 4 = 0.04, step 0.1 * 2 / 0.2 = 1;
    # v = 0.99 * 0.04 + 0.04 = 0.0796, step 0.2 / sqrt(0.0796) = 0.70888
    opt = RMSProp([Value(0.0)], 0.1, beta2=0.99)
    first = step_with(opt, [2.0])[0]
    assert first == pytest.approx(-1.0, rel=1e-7)
    assert opt.v == pytest.approx([0.04])
    second = step_with(opt, [2.0])[0]
    assert second == pytest.approx(-1.0 - 0.2 / math.sqrt(0.0796), rel=1e-7)
    assert second == pytest.approx(-1.708881, abs=1e-6)


def test_rmsprop_first_step_is_lr_over_root_one_minus_beta2():
    for g in (0.5, 50.0):
        moved = step_with(RMSProp([Value(0.0)], 0.01, beta2=0.99), [g])[0]
        assert -moved == pytest.approx(0.1, rel=1e-6)


def test_adam_two_steps_by_hand():
    # g = 1 then g = -1, beta1 0.9, beta2 0.999:
    # m = 0.1, v = 0.001 -> m_hat 1, v_hat 1, step lr;
    # m = 0.09 - 0.1 = -0.01, v = 0.000999 + 0.001 = 0.001999
    # m_hat = -0.01 / 0.19, v_hat = 0.001999 / 0.001999 = 1
    opt = Adam([Value(0.0)], lr=0.1)
    assert step_with(opt, [1.0])[0] == pytest.approx(-0.1, rel=1e-7)
    m_hat = -0.01 / (1 - 0.9**2)
    v_hat = 0.001999 / (1 - 0.999**2)
    expect = -0.1 - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    assert step_with(opt, [-1.0])[0] == pytest.approx(expect, rel=1e-7)
    assert opt.m == pytest.approx([-0.01])
    assert opt.v == pytest.approx([0.001999])


def test_zero_grad_resets_every_parameter():
    params = [Value(1.0), Value(2.0)]
    opt = Adam(params, 0.1)
    (params[0] * params[1]).backward()
    assert [p.grad for p in params] == [2.0, 1.0]
    opt.zero_grad()
    assert [p.grad for p in params] == [0.0, 0.0]


def test_zero_gradient_does_not_move_anything():
    for make in OPTIMIZERS.values():
        params = [Value(1.5), Value(-2.0)]
        assert step_with(make(params, 0.1), [0.0, 0.0]) == [1.5, -2.0]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_optimizer_decreases_a_random_quadratic(name):
    rng = random.Random(7)
    a = [rng.uniform(0.5, 5.0) for _ in range(6)]
    c = [rng.gauss(0.0, 1.0) for _ in range(6)]
    params = [Value(rng.gauss(0.0, 1.0)) for _ in range(6)]

    def f():
        return sum(
            (a_i * (p - c_i) * (p - c_i) for a_i, p, c_i in zip(a, params, c)),
            Value(0.0),
        )

    opt = OPTIMIZERS[name](
        params, 0.01 if name in ("sgd", "momentum") else 0.05
    )
    start = f().data
    for _ in range(200):
        opt.zero_grad()
        loss = f()
        loss.backward()
        opt.step()
    assert f().data < 0.05 * start


# The schedule.


def test_schedule_values_at_known_steps():
    s = WarmupCosine(peak=0.01, warmup=10, total=100)
    assert s(1) == pytest.approx(0.001)
    assert s(5) == pytest.approx(0.005)
    assert s(10) == pytest.approx(0.01)  # end of warmup: the peak
    assert s(55) == pytest.approx(0.0055)  # halfway down the cosine
    assert s(100) == pytest.approx(0.001)  # end of decay: final * peak
    assert s(1000) == pytest.approx(0.001)
    rates = [s(t) for t in range(10, 101)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_schedule_edges():
    assert WarmupCosine(0.1, 0, 10)(1) == pytest.approx(
        0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi / 10))
    )
    flat = WarmupCosine(0.1, 4, 4, final=0.0)
    assert [flat(t) for t in (1, 4, 5)] == pytest.approx([0.025, 0.1, 0.0])
    assert WarmupCosine(0.1, 1, 1)(1) == pytest.approx(0.1)


def test_schedule_drives_any_optimizer():
    s = WarmupCosine(0.01, 2, 6)
    for make in OPTIMIZERS.values():
        opt = make([Value(0.0)], s(1))
        for _ in range(6):
            opt.lr = s(opt.t + 1)
            step_with(opt, [1.0])
        assert opt.lr == pytest.approx(0.001)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(peak=-0.1, warmup=1, total=10), "peak"),
        (dict(peak=0.1, warmup=11, total=10), "warmup"),
        (dict(peak=0.1, warmup=-1, total=10), "warmup"),
        (dict(peak=0.1, warmup=0, total=0), "total"),
        (dict(peak=0.1, warmup=0, total=10, final=1.5), "final"),
    ],
)
def test_schedule_bad_arguments(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        WarmupCosine(**kwargs)


def test_schedule_rejects_step_zero():
    with pytest.raises(ValueError, match="step"):
        WarmupCosine(0.1, 1, 10)(0)


def test_schedule_rejects_bools():
    with pytest.raises(ValueError, match="total"):
        WarmupCosine(0.1, 0, True)
    with pytest.raises(ValueError, match="warmup"):
        WarmupCosine(0.1, True, 10)
    with pytest.raises(ValueError, match="step"):
        WarmupCosine(0.1, 1, 10)(True)


# Bad arguments and bad numbers.


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda p: SGD(p, -0.1), "lr must be"),
        (lambda p: SGD(p, math.nan), "lr must be"),
        (lambda p: SGD(p, math.inf), "lr must be"),
        (lambda p: Momentum(p, 0.1, mu=1.0), "mu must be in"),
        (lambda p: Momentum(p, 0.1, mu=-0.5), "mu must be in"),
        (lambda p: RMSProp(p, 0.1, beta2=1.0), "beta2 must be in"),
        (lambda p: RMSProp(p, 0.1, eps=0.0), "eps must be"),
        (lambda p: Adam(p, 0.1, beta1=1.0), "beta1 must be in"),
        (lambda p: Adam(p, 0.1, beta1=-0.1), "beta1 must be in"),
        (lambda p: Adam(p, 0.1, beta2=1.5), "beta2 must be in"),
        (lambda p: Adam(p, 0.1, eps=-1e-8), "eps must be"),
        (lambda p: Adam(p, 0.1, eps=math.nan), "eps must be"),
    ],
)
def test_bad_hyperparameters_raise_value_error(make, needle):
    with pytest.raises(ValueError, match=needle):
        make([Value(1.0)])


@pytest.mark.parametrize("make", list(OPTIMIZERS.values()))
def test_empty_or_wrong_params(make):
    with pytest.raises(ValueError, match="params is empty"):
        make([], 0.1)
    with pytest.raises(TypeError, match=r"params\[1\] is a float"):
        make([Value(1.0), 2.0], 0.1)
    with pytest.raises(TypeError, match="lr must be a number"):
        make([Value(1.0)], "0.1")


def test_lr_is_checked_when_set_later():
    opt = Adam([Value(1.0)], 0.1)
    with pytest.raises(ValueError, match="lr must be"):
        opt.lr = -1.0


@pytest.mark.parametrize("make", list(OPTIMIZERS.values()))
def test_non_finite_gradient_is_named(make):
    opt = make([Value(1.0), Value(2.0)], 0.1)
    for bad in (math.inf, math.nan):
        opt.params[1].grad = bad
        with pytest.raises(ValueError, match=r"gradient of params\[1\]"):
            opt.step()
    assert opt.t == 0  # a refused step is not counted


def test_a_step_past_the_float_range_is_named_not_inf():
    w = Value(1e300)
    opt = SGD([w], 1e10)
    w.grad = 1e300
    with pytest.raises(ValueError, match=r"params\[0\] would leave the float"):
        opt.step()
    # Nothing was written: the parameter, the state and t are as before.
    assert w.data == 1e300 and opt.t == 0


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_refused_step_changes_nothing(name):
    # params[1] cannot take the step (nor can params[0] under RMSProp's
    # first step of 10 lr): neither moves.
    params = [Value(1.0), Value(-1e308)]
    opt = OPTIMIZERS[name](params, 1e308)
    state = {k: list(getattr(opt, k)) for k in ("m", "v") if hasattr(opt, k)}
    for p in params:
        p.grad = 1.0
    with pytest.raises(ValueError, match=r"params\[[01]\] would leave"):
        opt.step()
    assert [p.data for p in params] == [1.0, -1e308]
    assert opt.t == 0
    assert {k: getattr(opt, k) for k in state} == state
    opt.lr = 0.1  # a smaller rate then steps normally
    opt.step()
    assert opt.t == 1 and params[0].data < 1.0


def test_a_gradient_too_large_to_square_is_refused():
    w = Value(0.0)
    opt = Adam([w], 0.01)
    w.grad = 1e200  # g * g overflows: v would be inf and w frozen for good
    with pytest.raises(ValueError, match=r"v of params\[0\] would leave"):
        opt.step()
    assert w.data == 0.0 and opt.v == [0.0] and opt.t == 0


@pytest.mark.parametrize("make", list(OPTIMIZERS.values()))
def test_a_repeated_parameter_is_refused(make):
    w, u = Value(1.0), Value(2.0)
    with pytest.raises(ValueError, match=r"params\[2\] is params\[0\]"):
        make([w, u, w], 0.1)
    make([w, Value(1.0)], 0.1)  # equal values, different parameters: fine


def test_adam_huge_and_tiny_gradients_stay_finite():
    for g in (1e-300, 1e150):  # 1e200 squared overflows: refused, below
        w = Value(0.0)
        step_with(Adam([w], 0.01), [g])
        assert math.isfinite(w.data) and abs(w.data) <= 0.01 * (1 + 1e-9)
    assert w.data == pytest.approx(-0.01)


# Runs, divergence and the best rate.


def test_landscapes_have_minimum_zero():
    assert valley([Value(0.0), Value(0.0)]).data == 0.0
    assert saddle([Value(0.0), Value(1.0)]).data == 0.0
    assert saddle([Value(0.0), Value(-1.0)]).data == 0.0
    assert saddle([Value(0.0), Value(0.0)]).data == 0.5  # the saddle point


def test_huge_learning_rate_is_reported_diverged_without_nan():
    valley_task = landscapes()[0]
    for make in OPTIMIZERS.values():
        run = train(valley_task, make, 1e6, steps=100, warmup=1)
        assert run.diverged and run.reached is None
        assert all(math.isfinite(x) for x in run.losses)
    out = io.StringIO()
    tiny = Task(
        "tiny", "w^2", lambda: [Value(1.0)], lambda p: p[0] * p[0], 1e-4
    )
    results = compare_task(tiny, 30, out)
    text = out.getvalue()
    assert "nan" not in text.lower() and "inf" not in text.lower()
    assert any(r.diverged for r in results["sgd"])


def test_runs_are_reproducible():
    task = landscapes()[1]
    a = train(task, Adam, 0.03, 50, 2).losses
    b = train(task, Adam, 0.03, 50, 2).losses
    assert a == b


def test_best_prefers_the_first_to_reach_then_the_lowest():
    fast = Run(0.1, [5.0, 1.0, 0.0, 0.0], False, 0.5)
    slow = Run(0.01, [5.0, 2.0, 0.4, 0.1], False, 0.5)
    early = Run(0.3, [5.0, 0.4, 0.45, 0.45], False, 0.5)
    blown = Run(1.0, [5.0, 0.1], True, 0.5)
    assert fast.reached == 2 and slow.reached == 2 and blown.reached is None
    assert best([slow, fast, blown]) is fast  # tie on steps: lower loss
    assert best([fast, early, slow]) is early  # fewer steps beats lower loss
    low = Run(0.3, [5.0, 3.0, 0.9], False, 0.5)
    high = Run(0.2, [5.0, 3.0, 1.2], False, 0.5)
    assert best([high, low]) is low
    assert best([blown]) is None


def test_lr_grid_is_the_printed_one():
    assert LRS[0] == 1e-3 and LRS[-1] == 1000.0 and len(LRS) == 13
    assert all(a < b for a, b in zip(LRS, LRS[1:]))


def test_bigram_target_is_count_bigram_plus_slack():
    names = load_names()
    train_names, val = split(names)
    task = bigram_task(names)
    mle = bigram_baseline(train_names, val)["train_mle"]
    assert task.target == pytest.approx(mle + 0.02)
    assert task.loss(task.start()).data > task.target


# The recorded comparison.


def record():
    return RECORD.read_text(encoding="utf-8")


def section(text, name):
    match = re.search(rf"^{name}: .*?(?=\n\n)", text, re.M | re.S)
    assert match, f"no {name} section"
    return match[0]


def rows(text, name):
    out = {}
    for line in section(text, name).splitlines()[3:]:
        cells = line.split()
        out[cells[0]] = cells
    return out


def test_recorded_comparison_is_current():
    text = record()
    match = re.search(r"^fingerprint: (\w+) ", text, re.M)
    assert match, "no fingerprint line"
    assert match[1] == common.fingerprint(bench.INPUTS), (
        "micro/optim.py or its inputs changed: run "
        "python -m benchmarks.optimizers --record"
    )


def test_recorded_landscapes_match_a_fresh_run():
    text = record()
    for task in landscapes():
        out = io.StringIO()
        compare_task(task, 200, out)
        assert out.getvalue().rstrip("\n") == section(text, task.name)


def test_recorded_bigram_rows_match_a_fresh_run_at_the_best_rate():
    text = record()
    task = bigram_task(load_names())
    table = rows(text, "bigram")
    assert sorted(table) == sorted(OPTIMIZERS)
    for name, cells in table.items():
        lr = float(cells[1])
        run = train(task, OPTIMIZERS[name], lr, 200, 10)
        assert not run.diverged
        shown = [float(x) for x in cells[2:5]]
        assert shown == pytest.approx(
            [run.losses[10], run.losses[50], run.losses[200]], rel=1e-3
        )
        assert cells[5] == str(run.reached)


def test_recorded_run_meets_the_time_budget():
    text = record()
    assert re.search(r"^machine: .*, 2 cores,", text, re.M)
    seconds = float(re.search(r"^comparison took ([\d.]+)s$", text, re.M)[1])
    assert seconds <= 60


def test_recorded_claims_of_the_prose():
    text = record()
    learning_rates = re.search(r"^learning rates: (.*)$", text, re.M)[1]
    assert learning_rates.split() == [f"{lr:g}" for lr in LRS]
    valley_rows = rows(text, "valley")
    saddle_rows = rows(text, "saddle")
    bigram_rows = rows(text, "bigram")

    def reached(table, name):
        cell = table[name][5]
        return math.inf if cell == "never" else int(cell)

    # Valley: SGD's best rate is one below its first diverging one, and it
    # never gets there; momentum's row diverges from the same grid point and
    # gets there; the two with momentum get there before RMSProp.
    sgd_lr = float(valley_rows["sgd"][1])
    first_failed = float(valley_rows["sgd"][-1])
    assert LRS[LRS.index(sgd_lr) + 1] == first_failed
    assert reached(valley_rows, "sgd") == math.inf
    assert valley_rows["sgd"][-1] == valley_rows["momentum"][-1]
    assert (
        max(reached(valley_rows, "momentum"), reached(valley_rows, "adam"))
        < reached(valley_rows, "rmsprop")
        < math.inf
    )
    # Saddle: RMSProp escapes first, then bounces before the decay; Adam's
    # best rate is below the others'.
    assert all(
        reached(saddle_rows, "rmsprop") < reached(saddle_rows, n)
        for n in ("sgd", "momentum", "adam")
    )
    assert float(saddle_rows["rmsprop"][3]) > float(saddle_rows["rmsprop"][2])
    assert all(
        float(saddle_rows["adam"][1]) < float(saddle_rows[n][1])
        for n in ("sgd", "momentum", "rmsprop")
    )
    # Bigram: every optimizer reaches the target; the two with per-parameter
    # step sizes first, at rates far below SGD's.
    assert all(reached(bigram_rows, n) < math.inf for n in OPTIMIZERS)
    for n in ("rmsprop", "adam"):
        assert reached(bigram_rows, n) < reached(bigram_rows, "momentum")
        assert reached(bigram_rows, n) < reached(bigram_rows, "sgd")
        assert float(bigram_rows[n][1]) * 100 <= float(bigram_rows["sgd"][1])
    # Adam: every target reached; on both landscapes it diverges at fewer
    # rates of the grid than any other optimizer.
    for table in (valley_rows, saddle_rows, bigram_rows):
        assert reached(table, "adam") < math.inf
    for table in (valley_rows, saddle_rows):
        failed = {n: int(table[n][6]) for n in OPTIMIZERS}
        assert all(
            failed["adam"] < failed[n] for n in OPTIMIZERS if n != "adam"
        )
    assert "nan" not in text and "inf" not in text


# The command line.


def micro(*args):
    return run_micro("optimizers", *args)


def test_cli_runs_on_a_names_file(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("anna\nbob\ncarla\ndave\nemma\nfrank\ngina\n")
    result = micro("--data", path, "--steps", "8")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name in ("valley:", "saddle:", "bigram:", "learning rates: 0.001"):
        assert name in out
    for name in OPTIMIZERS:
        assert len(re.findall(rf"^  {name} ", out, re.M)) == 3
    assert "nan" not in out and "inf" not in out
    assert re.search(r"^comparison took \d+\.\ds$", out, re.M)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--steps", "-3"], "--steps"),
        (["--steps", "0"], "--steps"),
        (["--steps", "x"], "--steps"),
        (["--seed", "x"], "--seed"),
        (["--seed", "-1"], "--seed"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--data", "/no/such/file.txt"], "no such file"),
    ],
)
def test_cli_bad_input_exits_2(args, needle):
    assert_usage_error(micro(*args), "optimizers", needle)


@pytest.mark.parametrize(
    "data, needle",
    [(b"caf\xe9\n", "not UTF-8"), (b"\n  \n", "empty"), (b"anna\n", "two")],
)
def test_cli_bad_data_exits_2(tmp_path, data, needle):
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    assert_usage_error(micro("--data", path), "optimizers", needle)
