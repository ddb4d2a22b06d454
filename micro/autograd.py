# Tangled from book/autograd.md: edit the chapter, not this file.
"""Scalar reverse-mode automatic differentiation: Value nodes that keep
their local derivatives, an iterative backward pass, fused sum / dot /
cross-entropy nodes, a finite-difference gradient checker, and a neural
bigram trained with it.

Left out on purpose: tensors, higher derivatives (local derivatives are
plain floats), forward mode, and naming the operation when + or * overflows.
"""

import gc
import math
import operator
import random
import sys
import time

from micro.prelude import (
    Progress,
    Vocab,
    bigram_baseline,
    command,
    load_names,
    positive_float,
    positive_int,
    run,
    split,
)


def _finite(data):
    if isinstance(data, Value):
        raise TypeError("Value(...) takes a number, got a Value")
    if not isinstance(data, (int, float)):
        raise TypeError(f"Value holds a number, got {type(data).__name__}")
    try:
        data = float(data)
    except OverflowError:
        raise ValueError(f"{data} is too large for a float") from None
    if data - data:
        raise ValueError(
            f"Value got {data}: a result left the float range "
            "(or the input was not a finite number)"
        )
    return data


def _lift(other):
    """other as a Value; None if it is not a number."""
    if isinstance(other, Value):
        return other
    if isinstance(other, (int, float)):
        return Value(other)
    return None


MAX_EXP = math.log(sys.float_info.max)  # exp overflows past this


class Value:
    """A number in a computation graph, with its gradient.

    _children are the values it was computed from, _local_grads the
    derivative of this value with respect to each of them.
    """

    __slots__ = ("data", "grad", "_children", "_local_grads")

    def __init__(self, data, _children=(), _local_grads=()):
        if type(data) is not float or data - data:
            data = _finite(data)
        self.data = data
        self.grad = 0.0
        self._children = _children
        self._local_grads = _local_grads

    def __repr__(self):
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    def __add__(self, other):
        if not isinstance(other, Value):
            other = _lift(other)
            if other is None:
                return NotImplemented
        return Value(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        if not isinstance(other, Value):
            other = _lift(other)
            if other is None:
                return NotImplemented
        return Value(
            self.data * other.data, (self, other), (other.data, self.data)
        )

    def __neg__(self):
        return Value(-self.data, (self,), (-1.0,))

    def __sub__(self, other):
        other = _lift(other)
        if other is None:
            return NotImplemented
        return Value(self.data - other.data, (self, other), (1.0, -1.0))

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        other = _lift(other)
        if other is None:
            return NotImplemented
        return other - self

    def __truediv__(self, other):
        other = _lift(other)
        if other is None:
            return NotImplemented
        a, b = self.data, other.data
        if b == 0.0:
            raise ZeroDivisionError(f"div: {a!r} / 0.0 divides by zero")
        y = a / b
        dy_da, dy_db = 1.0 / b, -y / b
        if dy_da - dy_da or dy_db - dy_db:
            raise ValueError(f"div: the gradient of {a!r} / {b!r} overflows")
        return Value(y, (self, other), (dy_da, dy_db))

    def __rtruediv__(self, other):
        other = _lift(other)
        if other is None:
            return NotImplemented
        return other / self

    def __pow__(self, k):
        if isinstance(k, Value) or not isinstance(k, (int, float)):
            return NotImplemented
        x = self.data
        if k - k:
            raise ValueError(f"pow: the exponent must be finite, got {k}")
        if x < 0.0 and k != int(k):
            raise ValueError(
                f"pow: {x!r} ** {k!r} has no real value "
                "(fractional power of a negative base)"
            )
        if x == 0.0 and k < 0:
            raise ZeroDivisionError(f"pow: 0.0 ** {k!r} divides by zero")
        if x == 0.0 and 0 < k < 1:
            raise ValueError(f"pow: the slope of x ** {k!r} at 0 is infinite")
        try:
            y = x**k
            dy_dx = k * x ** (k - 1) if k != 0 else 0.0
        except OverflowError:
            raise ValueError(
                f"pow: {x!r} ** {k!r} overflows a float"
            ) from None
        if dy_dx - dy_dx:
            raise ValueError(
                f"pow: the slope of x ** {k!r} at {x!r} overflows"
            )
        return Value(y, (self,), (dy_dx,))

    def exp(self):
        try:
            y = math.exp(self.data)
        except OverflowError:
            raise ValueError(
                f"exp: exp({self.data!r}) overflows a float "
                f"(the largest allowed input is {MAX_EXP:.2f})"
            ) from None
        return Value(y, (self,), (y,))

    def log(self):
        x = self.data
        if x <= 0.0:
            raise ValueError(f"log: log({x!r}) is undefined (needs x > 0)")
        dy_dx = 1.0 / x
        if dy_dx - dy_dx:
            raise ValueError(f"log: the slope of log at {x!r} overflows")
        return Value(math.log(x), (self,), (dy_dx,))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,))

    def sigmoid(self):
        x = self.data
        if x >= 0.0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        return Value(s, (self,), (s * (1.0 - s),))

    def relu(self):
        x = self.data
        return Value(x if x > 0.0 else 0.0, (self,), (float(x > 0.0),))

    def topological_order(self):
        """Nodes with children below self, each after all its children."""
        order, seen = [], set()
        stack = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                for child in node._children:
                    if child._children and child not in seen:
                        stack.append((child, False))
        return order

    def backward(self):
        """Add d(self)/d(leaf) to the grad of every leaf below self.

        Inner nodes get the gradient of this call only; leaves accumulate
        across calls (reset them with zero_grad).
        """
        order = self.topological_order() if self._children else []
        for node in order:
            node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            g = node.grad
            if g:
                for child, local in zip(node._children, node._local_grads):
                    child.grad += local * g


def zero_grad(params):
    """Set the gradient of every value in params to 0."""
    for p in params:
        p.grad = 0.0


def grad_check(f, inputs, eps=1e-6):
    """Largest error between backward's and finite-difference gradients.

    f maps a list of Values to one Value; inputs is a list of numbers.
    The error is |g - g_hat| / max(1, |g|, |g_hat|) per input.
    """
    xs = [Value(x) for x in inputs]
    f(xs).backward()
    worst = 0.0
    for i, x in enumerate(inputs):
        up = [Value(v) for v in inputs]
        down = [Value(v) for v in inputs]
        up[i] = Value(x + eps)
        down[i] = Value(x - eps)
        g_hat = (f(up).data - f(down).data) / (2 * eps)
        g = xs[i].grad
        worst = max(worst, abs(g - g_hat) / max(1.0, abs(g), abs(g_hat)))
    return worst


def total(values):
    """sum(values) as one node."""
    values = _values(values, "total")
    if not values:
        return Value(0.0)
    y = sum(v.data for v in values)
    return Value(y, tuple(values), (1.0,) * len(values))


def _values(values, op):
    values = list(values)
    lifted = [_lift(v) for v in values]
    if None in lifted:
        bad = values[lifted.index(None)]
        raise TypeError(f"{op}: expected numbers, got {type(bad).__name__}")
    return lifted


def dot(w, x):
    """sum(w_i * x_i) as one node; either list may hold plain numbers."""
    if len(w) != len(x):
        raise ValueError(f"dot: lengths differ ({len(w)} and {len(x)})")
    try:
        w_data = [w_i.data for w_i in w]
        x_data = [x_i.data for x_i in x]
    except AttributeError:
        return dot(_values(w, "dot"), _values(x, "dot"))
    y = sum(map(operator.mul, w_data, x_data))
    return Value(y, (*w, *x), (*x_data, *w_data))


def _softmax_parts(z, op):
    if not z:
        raise ValueError(f"{op}: needs at least one value")
    z_data = [z_i.data for z_i in z]
    m = max(z_data)
    e = [math.exp(z_i - m) for z_i in z_data]
    s = sum(e)
    p = [e_i / s for e_i in e]
    return z_data, m, math.log(s), p


def logsumexp(values):
    """log(sum(exp(v))) as one node, stable for any finite inputs."""
    z = _values(values, "logsumexp")
    _, m, log_s, p = _softmax_parts(z, "logsumexp")
    return Value(m + log_s, tuple(z), tuple(p))


def cross_entropy(logits, target):
    """-log softmax(logits)[target] as one node."""
    z = _values(logits, "cross_entropy")
    if not isinstance(target, int) or not 0 <= target < len(z):
        raise ValueError(
            f"cross_entropy: target must be an index in 0..{len(z) - 1}, "
            f"got {target!r}"
        )
    z_data, m, log_s, p = _softmax_parts(z, "cross_entropy")
    p[target] -= 1.0
    return Value((m - z_data[target]) + log_s, tuple(z), tuple(p))


def softmax(values):
    """The softmax probabilities as Values (one exp node each)."""
    lse = logsumexp(values)
    return [(v - lse).exp() for v in values]


def check_shapes(W, x, b, name):
    """ValueError unless W is [len(b)][len(x)]: zip would silently truncate."""
    if len(W) != len(b):
        raise ValueError(f"{name}: W has {len(W)} rows, b has {len(b)}")
    for i, W_i in enumerate(W):
        if len(W_i) != len(x):
            raise ValueError(
                f"{name}: row {i} of W has {len(W_i)} weights, x has {len(x)}"
            )


def linear_unfused(W, x, b):
    """W x + b with one node per multiply and per add."""
    # W: [n_out][n_in], x: [n_in], b: [n_out] -> [n_out]
    check_shapes(W, x, b, "linear_unfused")
    return [
        sum(W_ij * x_j for W_ij, x_j in zip(W_i, x)) + b_i
        for W_i, b_i in zip(W, b)
    ]


def linear(W, x, b):
    """W x + b with one fused node per output."""
    # W: [n_out][n_in], x: [n_in], b: [n_out] -> [n_out]
    check_shapes(W, x, b, "linear")
    x = _values(x, "linear")
    x_data = [x_j.data for x_j in x]
    out = []
    for W_i, b_i in zip(W, b):
        W_i_data = [W_ij.data for W_ij in W_i]
        y_i = sum(map(operator.mul, W_i_data, x_data)) + b_i.data
        out.append(Value(y_i, (*W_i, *x, b_i), (*x_data, *W_i_data, 1.0)))
    return out


def mlp_init(sizes, rng):
    """[(W, b)] per layer; W: [n_out][n_in] ~ N(0, 1/n_in), b: [n_out]."""
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        std = 1.0 / math.sqrt(n_in)
        W = [
            [Value(rng.gauss(0.0, std)) for _ in range(n_in)]
            for _ in range(n_out)
        ]
        b = [Value(0.0) for _ in range(n_out)]
        layers.append((W, b))
    return layers


def mlp_params(layers):
    return [p for W, b in layers for p in [*(w for row in W for w in row), *b]]


def cross_entropy_unfused(logits, target):
    """-log softmax(logits)[target] from exp, +, / and log nodes."""
    m = max(z.data for z in logits)
    e = [(z - m).exp() for z in logits]
    return -(e[target] / sum(e)).log()


def mlp_loss(layers, xs, ys, fused=True):
    """Mean cross-entropy of the MLP over a batch xs: [B][n_in], ys: [B]."""
    layer_fn = linear if fused else linear_unfused
    loss_fn = cross_entropy if fused else cross_entropy_unfused
    losses = []
    for x, y in zip(xs, ys):
        h = x
        for depth, (W, b) in enumerate(layers):
            h = layer_fn(W, h, b)
            if depth < len(layers) - 1:
                h = [h_i.tanh() for h_i in h]
        losses.append(loss_fn(h, y))
    summed = total(losses) if fused else sum(losses)
    return summed / len(losses)


def mean_time(repeat, fn, *args):
    """Mean seconds of repeat calls fn(*args), and the last result."""
    start = time.perf_counter()
    for _ in range(repeat):
        result = fn(*args)
    return (time.perf_counter() - start) / repeat, result


def layer_workload(n, rng):
    """W: [n][n], x: [n] and b: [n] Values, for timing one layer."""
    W = [[Value(rng.gauss(0.0, 1.0)) for _ in range(n)] for _ in range(n)]
    x = [Value(rng.gauss(0.0, 1.0)) for _ in range(n)]
    b = [Value(0.0) for _ in range(n)]
    return W, x, b


def layer_step(W, x, b, fused):
    """Forward and backward of sum(W x + b); the gradients of W."""
    params = [w for row in W for w in row]
    zero_grad(params)
    y = linear(W, x, b) if fused else linear_unfused(W, x, b)
    (total(y) if fused else sum(y)).backward()
    return [w.grad for w in params]


def mlp_workload(rng, sizes=(2, 32, 32, 2), batch=16):
    """An MLP and a batch of labelled points (label: same-sign quadrant)."""
    layers = mlp_init(list(sizes), rng)
    xs = [
        [Value(rng.uniform(-1, 1)) for _ in range(sizes[0])]
        for _ in range(batch)
    ]
    ys = [int(x[0].data * x[1].data > 0) for x in xs]
    return layers, xs, ys


def mlp_step(layers, xs, ys, fused, lr=0.0):
    """One training step: zero, forward, backward, update; the grads.

    lr defaults to 0 so that repeated timing runs see the same weights.
    """
    params = mlp_params(layers)
    zero_grad(params)
    mlp_loss(layers, xs, ys, fused).backward()
    grads = [p.grad for p in params]
    for p in params:
        p.data -= lr * p.grad
    return grads


def gc_off(fn, *args):
    """fn(*args) with the cyclic garbage collector off, then restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return fn(*args)
    finally:
        if enabled:
            gc.enable()


def speed_report(repeat=3, out=None):
    """Time unfused against fused, and the collector on against off."""
    out = out or sys.stdout
    rng = random.Random(0)
    W, x, b = layer_workload(64, rng)
    layers, xs, ys = mlp_workload(rng)
    workloads = [
        ("64x64 layer, forward+backward", layer_step, (W, x, b)),
        ("2-32-32-2 MLP step, batch 16", mlp_step, (layers, xs, ys)),
    ]
    rows = []
    for name, step, args in workloads:
        slow, g_slow = mean_time(repeat, step, *args, False)
        fast, g_fast = mean_time(repeat, step, *args, True)
        diff = max(abs(a - b) for a, b in zip(g_slow, g_fast))
        rows.append((name, slow, fast, diff))
    gc_on, _ = mean_time(repeat, mlp_step, layers, xs, ys, True)
    gc_free, _ = gc_off(mean_time, repeat, mlp_step, layers, xs, ys, True)
    print_speed(rows, gc_on, gc_free, repeat, out)
    return rows, gc_on, gc_free


def print_speed(rows, gc_on, gc_free, repeat, out):
    print(f"speed, mean of {repeat} runs (milliseconds):", file=out)
    print(
        f"  {'workload':<31}{'per multiply':>13}{'fused':>9}{'speed-up':>10}"
        f"{'max grad diff':>15}",
        file=out,
    )
    for name, slow, fast, diff in rows:
        print(
            f"  {name:<31}{slow * 1e3:>13.2f}{fast * 1e3:>9.2f}"
            f"{slow / fast:>9.1f}x{diff:>15.1e}",
            file=out,
        )
    print(
        f"  fused MLP step: gc on {gc_on * 1e3:.2f} | gc off "
        f"{gc_free * 1e3:.2f} | on/off {gc_on / gc_free:.2f}x",
        file=out,
    )


def bigram_counts(names, vocab):
    """counts[a][b]: times b follows a; [V][V] floats."""
    V = len(vocab)
    counts = [[0.0] * V for _ in range(V)]
    for name in names:
        ids = vocab.encode(name)
        for a, b in zip(ids, ids[1:]):
            counts[a][b] += 1.0
    return counts


def bigram_loss(W, counts, N):
    """Mean cross-entropy over all N bigrams, one term per row of W."""
    rows = []
    for W_a, c_a in zip(W, counts):
        C_a = sum(c_a)
        if C_a:
            rows.append(C_a * logsumexp(W_a) - dot(W_a, c_a))
    return total(rows) / N


def train_bigram(names, steps=500, lr=50.0, seed=0, progress=None):
    """Fit W: [V][V] by gradient descent; returns (W, vocab, losses)."""
    vocab = Vocab.from_items(names)
    counts = bigram_counts(names, vocab)
    N = sum(map(sum, counts))
    rng = random.Random(seed)
    V = len(vocab)
    W = [[Value(rng.gauss(0.0, 0.1)) for _ in range(V)] for _ in range(V)]
    params = [w for row in W for w in row]
    losses = []
    for step in range(1, steps + 1):
        loss = bigram_loss(W, counts, N)
        loss.backward()
        for w in params:
            w.data -= lr * w.grad
        zero_grad(params)
        losses.append(loss.data)
        if progress is not None:
            progress.log(step, loss=loss.data)
    return W, vocab, losses


def bigram_report(names, steps, lr, seed, out=None):
    """Train the neural bigram and print its loss beside the count model's."""
    out = out or sys.stdout
    train, val = split(names)
    V = len(Vocab.from_items(train))
    print(
        f"neural bigram: {len(train):,} training names, W is "
        f"{V}x{V} = {V * V:,} parameters, {steps} steps at lr {lr}",
        file=out,
    )
    _, _, losses = train_bigram(
        train, steps, lr, seed, progress=Progress(steps, out=out)
    )
    mle = bigram_baseline(train, val)["train_mle"]
    print(
        f"training loss: neural {losses[-1]:.4f} | count bigram "
        f"(unsmoothed) {mle:.4f} | gap {losses[-1] - mle:.4f} nats",
        file=out,
    )
    return losses[-1], mle


CHECKS = (
    ("add", lambda v: v[0] + v[1], [0.3, -1.2]),
    ("sub", lambda v: v[0] - v[1], [0.3, -1.2]),
    ("mul", lambda v: v[0] * v[1], [0.3, -1.2]),
    ("div", lambda v: v[0] / v[1], [0.3, -1.2]),
    ("neg", lambda v: -v[0], [0.3]),
    ("pow", lambda v: v[0] ** 3 + v[1] ** -1.5, [-0.7, 1.3]),
    ("reflected", lambda v: 2 * v[0] + (1 - v[0]) / 3 - 2 / v[0], [0.8]),
    ("exp", lambda v: v[0].exp(), [0.4]),
    ("log", lambda v: v[0].log(), [0.4]),
    ("tanh", lambda v: v[0].tanh(), [0.4]),
    ("sigmoid", lambda v: v[0].sigmoid(), [-0.4]),
    ("relu", lambda v: v[0].relu() + v[1].relu(), [0.4, -0.4]),
    ("total", lambda v: total(v), [0.3, -1.2, 2.0]),
    ("dot", lambda v: dot(v[:2], v[1:]), [0.3, -1.2, 2.0]),
    ("logsumexp", lambda v: logsumexp(v), [0.3, -1.2, 2.0]),
    ("cross_entropy", lambda v: cross_entropy(v, 1), [0.3, -1.2, 2.0]),
)


def check_report(out=None, tolerance=1e-6):
    """grad_check every operation; True when all are within tolerance."""
    out = out or sys.stdout
    print("gradient check (backward vs central differences):", file=out)
    errors = [(name, grad_check(f, x)) for name, f, x in CHECKS]
    for i in range(0, len(errors), 4):
        print(
            "  " + "  ".join(f"{n:<13} {e:.0e}" for n, e in errors[i : i + 4]),
            file=out,
        )
    ok = all(e < tolerance for _, e in errors)
    print(f"  all below {tolerance:.0e}: {'yes' if ok else 'NO'}", file=out)
    return ok


def main(argv=None, prog="python -m micro autograd"):
    parser = command(
        prog,
        "Check the engine's gradients, time it, and train a neural bigram.",
        data="a UTF-8 file with one name per line (default: census names)",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=500,
        help="gradient steps (default 500)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        default=50.0,
        help="learning rate (default 50)",
    )

    def body(args):
        names = load_names(args.data)
        split(names)  # unusable data fails here, before anything runs
        check_report()
        speed_report()
        bigram_report(names, args.steps, args.lr, args.seed)

    return run(parser, argv, body)
