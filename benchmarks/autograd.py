"""Scalar autograd: one node per multiply against fused nodes, and what
Python's cyclic garbage collector costs a closure-based engine.

    python -m benchmarks.autograd [--repeat R] [--record]

Times forward + backward of a 64x64 linear layer and one training step of
a 2-32-32-2 MLP on a batch of 16 (micro.autograd.speed_report), checks that
both engines give the same gradients, then times the MLP step with the
collector on and off for micro's two layer kinds and for ClosureValue, an
engine written the common way: each node keeps a _backward closure that
refers to its own output, so every node sits in a reference cycle.
"""

import argparse
import gc
import io
import math
import random

from benchmarks.common import emit, header
from micro.autograd import (
    gc_off,
    mean_time,
    mlp_loss,
    mlp_params,
    mlp_step,
    mlp_workload,
    speed_report,
)


INPUTS = ["micro/autograd.py", "benchmarks/autograd.py"]


def _noop():
    pass


class ClosureValue:
    """A micrograd-style node: a closure pushes its gradient to children."""

    __slots__ = ("data", "grad", "_prev", "_backward")

    def __init__(self, data, prev=()):
        self.data = data
        self.grad = 0.0
        self._prev = prev
        self._backward = _noop

    @staticmethod
    def lift(other):
        return (
            other if isinstance(other, ClosureValue) else ClosureValue(other)
        )

    def __add__(self, other):
        other = self.lift(other)
        out = ClosureValue(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self.lift(other)
        out = ClosureValue(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k):
        out = ClosureValue(self.data**k, (self,))

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def _unary(self, y, dy_dx):
        out = ClosureValue(y, (self,))

        def _backward():
            self.grad += dy_dx * out.grad

        out._backward = _backward
        return out

    def exp(self):
        y = math.exp(self.data)
        return self._unary(y, y)

    def log(self):
        return self._unary(math.log(self.data), 1.0 / self.data)

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, 1.0 - t * t)

    def __neg__(self):
        return self * -1.0

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __sub__(self, other):
        return self + (-self.lift(other))

    def __truediv__(self, other):
        return self * self.lift(other) ** -1

    def backward(self):
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((c, False) for c in node._prev if c not in seen)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


def closure_copy(layers, xs):
    """The same MLP and batch as ClosureValues."""
    c_layers = [
        (
            [[ClosureValue(w.data) for w in row] for row in W],
            [ClosureValue(b_i.data) for b_i in b],
        )
        for W, b in layers
    ]
    c_xs = [[ClosureValue(v.data) for v in x] for x in xs]
    return c_layers, c_xs


def closure_step(layers, xs, ys):
    params = [p for W, b in layers for row in W + [b] for p in row]
    for p in params:
        p.grad = 0.0
    mlp_loss(layers, xs, ys, fused=False).backward()
    return [p.grad for p in params]


def gc_times(repeat, fn, *args, rounds=5):
    """Step time with the collector on and off: mean of repeat steps,
    best of rounds that alternate the two (other load on the machine only
    ever adds time), each started after a full collection."""
    on, off = [], []
    for _ in range(rounds):
        gc.collect()
        on.append(mean_time(repeat, fn, *args)[0])
        gc.collect()
        off.append(gc_off(mean_time, repeat, fn, *args)[0])
    gc.collect()
    return min(on), min(off)


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.autograd")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--record",
        action="store_true",
        help="also write benchmarks/results/autograd.txt",
    )
    args = parser.parse_args()

    buffer = io.StringIO()
    speed_report(args.repeat, out=buffer)

    layers, xs, ys = mlp_workload(random.Random(1))
    c_layers, c_xs = closure_copy(layers, xs)
    g_micro = mlp_step(layers, xs, ys, False)
    g_closure = closure_step(c_layers, c_xs, ys)
    diff = max(abs(a - b) for a, b in zip(g_micro, g_closure))
    n_params = len(mlp_params(layers))

    rows = [
        (
            "micro, fused nodes",
            gc_times(args.repeat, mlp_step, layers, xs, ys, True),
        ),
        (
            "micro, one node per multiply",
            gc_times(args.repeat, mlp_step, layers, xs, ys, False),
        ),
        (
            "closures, one node per multiply",
            gc_times(args.repeat, closure_step, c_layers, c_xs, ys),
        ),
    ]

    lines = header("autograd", INPUTS)
    lines += [
        "workloads: forward + backward of y = W x + b, W 64x64, loss sum(y);"
        f" one step of a 2-32-32-2 tanh MLP ({n_params:,} parameters),"
        " batch 16, cross-entropy",
        "",
        *buffer.getvalue().rstrip("\n").split("\n"),
        "",
        f"garbage collector, MLP step, mean of {args.repeat} steps, best of "
        "5 alternating rounds (milliseconds):",
        f"  {'engine':<34}{'gc on':>9}{'gc off':>9}{'on/off':>9}",
    ]
    for name, (on, off) in rows:
        lines.append(
            f"  {name:<34}{on * 1e3:>9.2f}{off * 1e3:>9.2f}{on / off:>8.2f}x"
        )
    lines.append(
        "closure engine gradients equal micro's: "
        f"{'yes' if diff < 1e-12 else 'NO'} (max difference {diff:.1e})"
    )
    emit("autograd", lines, args.record)


if __name__ == "__main__":
    main()
