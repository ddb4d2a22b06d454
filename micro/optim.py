# Tangled from book/optimizers.md: edit the chapter, not this file.
"""Gradient-based optimizers over lists of autograd Values: SGD, SGD with
momentum, RMSProp and Adam, a warmup-then-cosine learning-rate schedule, and
a comparison of the four on two landscapes and the neural bigram.

Left out on purpose: weight decay (AdamW), Nesterov momentum and later
variants, second-order methods, gradient clipping and parameter groups.
"""

import math
import random
import sys
import time

from micro.autograd import Value, bigram_counts, bigram_loss, zero_grad
from micro.prelude import (
    Vocab,
    bigram_baseline,
    command,
    load_names,
    positive_int,
    run,
    split,
)


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    return float(value)


def _in_range(name, value, low, high):
    """value as a float in [low, high); a ValueError naming it otherwise."""
    value = _number(name, value)
    if not low <= value < high:
        raise ValueError(f"{name} must be in [{low:g}, {high:g}), got {value}")
    return value


class Optimizer:
    """Parameters, a learning rate lr, and t, the number of steps taken.

    Subclasses define update(g) -> (theta, state): the new value of every
    parameter and the new lists of their per-parameter state, by name.
    """

    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError("params is empty: pass the Values to train")
        first = {}  # id of a Value -> its first index
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                kind = type(p).__name__
                raise TypeError(f"params[{i}] is a {kind}, not a Value")
            j = first.setdefault(id(p), i)
            if j != i:
                raise ValueError(
                    f"params[{i}] is params[{j}] again: it would be "
                    "stepped twice"
                )
        self.lr = lr
        self.t = 0

    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = _in_range("lr", value, 0.0, math.inf)

    def step(self):
        """One update of every parameter from its current gradient."""
        g = [p.grad for p in self.params]
        for i, g_i in enumerate(g):
            if g_i - g_i:  # inf - inf and nan - nan are nan, which is true
                raise ValueError(f"the gradient of params[{i}] is {g_i}")
        self.t += 1
        theta, state = self.update(g)

        # Commit only a step that stays in the float range.
        bad = _first_not_finite(theta)
        if bad is not None:
            self.t -= 1
            raise ValueError(
                f"step {self.t + 1}: params[{bad}] would leave the float "
                f"range (lr {self.lr:g} is too large)"
            )
        for name, values in state.items():
            bad = _first_not_finite(values)
            if bad is not None:
                self.t -= 1
                raise ValueError(
                    f"step {self.t + 1}: {name} of params[{bad}] would "
                    "leave the float range (the gradient is too large)"
                )
        for p, theta_i in zip(self.params, theta):
            p.data = theta_i
        for name, values in state.items():
            setattr(self, name, values)

    def update(self, g):
        raise NotImplementedError

    def zero_grad(self):
        zero_grad(self.params)


def _first_not_finite(values):
    """The index of the first inf or nan in values, else None."""
    for i, x in enumerate(values):
        if x - x:
            return i
    return None


class SGD(Optimizer):
    """Plain gradient descent: theta -= lr * g."""

    def update(self, g):
        eta = self.lr
        theta = [p.data - eta * g_i for p, g_i in zip(self.params, g)]
        return theta, {}


class Momentum(Optimizer):
    """SGD along a decaying sum of past gradients: m = mu m + g."""

    def __init__(self, params, lr, mu=0.9):
        super().__init__(params, lr)
        self.mu = _in_range("mu", mu, 0.0, 1.0)
        self.m = [0.0] * len(self.params)

    def update(self, g):
        eta, mu = self.lr, self.mu
        m = [mu * m_i + g_i for m_i, g_i in zip(self.m, g)]
        theta = [p.data - eta * m_i for p, m_i in zip(self.params, m)]
        return theta, {"m": m}


def _eps(eps):
    eps = _number("eps", eps)
    if not 0.0 < eps < math.inf:
        raise ValueError(f"eps must be a finite number > 0, got {eps}")
    return eps


class RMSProp(Optimizer):
    """Each step divided by the root of a moving average v of g**2."""

    def __init__(self, params, lr, beta2=0.99, eps=1e-8):
        super().__init__(params, lr)
        self.beta2 = _in_range("beta2", beta2, 0.0, 1.0)
        self.eps = _eps(eps)
        self.v = [0.0] * len(self.params)

    def update(self, g):
        eta, beta2, eps = self.lr, self.beta2, self.eps
        v = [
            beta2 * v_i + (1 - beta2) * g_i * g_i
            for v_i, g_i in zip(self.v, g)
        ]
        theta = [
            p.data - eta * g_i / (math.sqrt(v_i) + eps)
            for p, g_i, v_i in zip(self.params, g, v)
        ]
        return theta, {"v": v}


class Adam(Optimizer):
    """Momentum m and RMSProp's v, both bias-corrected by step t."""

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params, lr)
        self.beta1 = _in_range("beta1", beta1, 0.0, 1.0)
        self.beta2 = _in_range("beta2", beta2, 0.0, 1.0)
        self.eps = _eps(eps)
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def update(self, g):
        eta, beta1, beta2, eps = self.lr, self.beta1, self.beta2, self.eps
        correction1 = 1 - beta1**self.t
        correction2 = 1 - beta2**self.t
        m = [beta1 * m_i + (1 - beta1) * g_i for m_i, g_i in zip(self.m, g)]
        v = [
            beta2 * v_i + (1 - beta2) * g_i * g_i
            for v_i, g_i in zip(self.v, g)
        ]
        theta = []
        for p, m_i, v_i in zip(self.params, m, v):
            m_hat = m_i / correction1
            v_hat = v_i / correction2
            theta.append(p.data - eta * m_hat / (math.sqrt(v_hat) + eps))
        return theta, {"m": m, "v": v}


class WarmupCosine:
    """lr(t): linear warmup to peak over `warmup` steps, then half a
    cosine down to final * peak at step `total`, flat after that."""

    def __init__(self, peak, warmup, total, final=0.1):
        self.peak = _in_range("peak", peak, 0.0, math.inf)
        self.final = _number("final", final)
        if not 0.0 <= self.final <= 1.0:
            raise ValueError(f"final must be in [0, 1], got {final}")
        if not (type(total) is int and total >= 1):
            raise ValueError(f"total must be a whole number >= 1, got {total}")
        if not (type(warmup) is int and 0 <= warmup <= total):
            raise ValueError(
                f"warmup must be a whole number in [0, total], got {warmup}"
            )
        self.warmup, self.total = warmup, total

    def __call__(self, t):
        if not (type(t) is int and t >= 1):
            raise ValueError(
                f"the step t must be a whole number >= 1, got {t}"
            )
        eta, W, T = self.peak, self.warmup, self.total
        if t <= W:
            return eta * t / W
        eta_min = self.final * eta
        progress = 1.0 if t >= T else (t - W) / (T - W)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return eta_min + (eta - eta_min) * cosine


ROOT_HALF = math.sqrt(0.5)


def valley(params):
    """u**2 + 100 w**2 on axes turned 45 degrees; minimum 0 at 0."""
    x, y = params
    u = (x + y) * ROOT_HALF
    w = (x - y) * ROOT_HALF
    return u * u + 100 * w * w


def saddle(params):
    """A saddle at 0, bounded by a quartic; minima 0 at (0, +-1)."""
    x, y = params
    return x * x - y * y + 0.5 * y**4 + 0.5


class Task:
    def __init__(self, name, about, start, loss, target):
        self.name, self.about = name, about
        self.start, self.loss, self.target = start, loss, target


def landscapes():
    return [
        Task(
            "valley",
            "u^2 + 100 w^2, u, w = (x +- y)/sqrt 2, from (-1, 1.2)",
            lambda: [Value(-1.0), Value(1.2)],
            valley,
            1e-4,
        ),
        Task(
            "saddle",
            "x^2 - y^2 + y^4/2 + 1/2, from (1, 1e-8)",
            lambda: [Value(1.0), Value(1e-8)],
            saddle,
            1e-4,
        ),
    ]


BIGRAM_SLACK = 0.02  # nats above the count bigram's training loss


def bigram_task(names, seed=0):
    """The autograd chapter's neural bigram on the training names."""
    train, val = split(names)
    vocab = Vocab.from_items(train)
    counts = bigram_counts(train, vocab)  # [V][V]
    N = sum(map(sum, counts))
    V = len(vocab)

    def start():
        rng = random.Random(seed)
        return [Value(rng.gauss(0.0, 0.1)) for _ in range(V * V)]

    def loss(params):
        W = [params[a * V : (a + 1) * V] for a in range(V)]  # [V][V]
        return bigram_loss(W, counts, N)

    target = bigram_baseline(train, val, vocab)["train_mle"] + BIGRAM_SLACK
    about = f"{V}x{V} weights, {len(train):,} training names"
    return Task("bigram", about, start, loss, target)


BLOWUP = 100.0  # diverged: loss above BLOWUP times the starting loss


class Run:
    def __init__(self, lr, losses, diverged, target):
        self.lr, self.losses, self.diverged = lr, losses, diverged
        hits = [t for t, loss in enumerate(losses) if loss <= target]
        self.reached = None if diverged or not hits else hits[0]


def train(task, make_optimizer, lr, steps, warmup):
    """Run one optimizer at peak rate lr; the losses after 0..steps steps."""
    params = task.start()
    opt = make_optimizer(params, lr)
    schedule = WarmupCosine(lr, warmup, steps)
    losses = []
    try:
        for t in range(steps + 1):
            loss = task.loss(params)
            losses.append(loss.data)
            if loss.data > BLOWUP * losses[0]:
                return Run(lr, losses, True, task.target)
            if t == steps:
                break
            opt.zero_grad()
            loss.backward()
            opt.lr = schedule(t + 1)
            opt.step()
    except (ValueError, OverflowError, ZeroDivisionError):
        return Run(lr, losses, True, task.target)
    return Run(lr, losses, False, task.target)


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "rmsprop": RMSProp,
    "adam": Adam,
}
LRS = [m * 10.0**e for e in range(-3, 3) for m in (1, 3)] + [1000.0]


def best(runs):
    """The run reaching the target first, else the lowest final loss."""
    finished = [r for r in runs if not r.diverged]
    if not finished:
        return None
    never = math.inf
    return min(
        finished,
        key=lambda r: (
            never if r.reached is None else r.reached,
            r.losses[-1],
        ),
    )


def checkpoints(steps):
    return sorted({max(1, steps // 20), max(1, steps // 4), steps})


def _row(name, runs, steps):
    top = best(runs)
    failed = [r.lr for r in runs if r.diverged]
    diverged = f"{len(failed)} of {len(runs)}"
    if failed:
        diverged += f", from {min(failed):g}"
    if top is None:
        losses = ["-"] * len(checkpoints(steps))
        return f"  {name:<10}{'-':>8}" + _cells(losses, "never", diverged)
    losses = [f"{top.losses[c]:.4g}" for c in checkpoints(steps)]
    reached = "never" if top.reached is None else str(top.reached)
    return f"  {name:<10}{top.lr:>8g}" + _cells(losses, reached, diverged)


def _cells(losses, reached, diverged):
    cells = "".join(f" {x:>9}" for x in losses)  # a space even at 10 wide
    return cells + f"{reached:>8}  {diverged}"


def compare_task(task, steps, out=None, optimizers=None):
    """Sweep every optimizer over LRS on task; print and return the runs."""
    out = out or sys.stdout
    optimizers = optimizers or OPTIMIZERS
    warmup = max(1, steps // 20)
    print(f"{task.name}: {task.about}", file=out)
    print(f"  target loss {task.target:.4g}, fixed before the runs", file=out)
    heads = "".join(f"{f'loss@{c}':>10}" for c in checkpoints(steps))
    print(
        f"  {'optimizer':<10}{'best lr':>8}{heads}{'target':>8}  diverged",
        file=out,
    )
    results = {}
    for name, make in optimizers.items():
        runs = [train(task, make, lr, steps, warmup) for lr in LRS]
        results[name] = runs
        print(_row(name, runs, steps), file=out)
    return results


def compare(names, steps=200, seed=0, out=None):
    """The whole comparison: both landscapes and the neural bigram."""
    out = out or sys.stdout
    start = time.perf_counter()
    warmup = max(1, steps // 20)
    print(
        f"{len(OPTIMIZERS)} optimizers x {len(LRS)} peak learning rates x "
        f"{steps} steps per task; schedule: warmup {warmup}, cosine to 0.1 "
        "of peak",
        file=out,
    )
    print("learning rates: " + " ".join(f"{lr:g}" for lr in LRS), file=out)
    print(
        f"diverged: loss above {BLOWUP:g} x start, or not a number", file=out
    )
    results = {}
    for task in [*landscapes(), bigram_task(names, seed)]:
        print(file=out)
        results[task.name] = compare_task(task, steps, out)
    print(f"\ncomparison took {time.perf_counter() - start:.1f}s", file=out)
    return results


def main(argv=None, prog="python -m micro optimizers"):
    parser = command(
        prog,
        "Compare SGD, momentum, RMSProp and Adam on two landscapes and the "
        "neural bigram.",
        data="a UTF-8 file with one name per line (default: census names)",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=200,
        help="steps per run (default 200)",
    )

    def body(args):
        names = load_names(args.data)
        split(names)  # unusable data fails here, before anything runs
        compare(names, args.steps, args.seed)

    return run(parser, argv, body)
