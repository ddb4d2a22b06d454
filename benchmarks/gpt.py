"""The GPT chapter's runs: fused against per-multiply layers, the default
command, and a longer documented run with its loss curve.

    python -m benchmarks.gpt [--long-steps N] [--record]

1. Tokens per second of training with micro.autograd.linear against
   linear_unfused: the same model, data and seed, a few steps each,
   CPU time, alternating rounds; the losses must be the same.
2. `python -m micro gpt` as a reader runs it: its whole output and the CPU
   time of the whole command (target: below the bigram within 60 s).
3. `python -m micro gpt --steps N`: output, a text loss curve drawn from its
   progress lines, and its CPU time (target: 0.15 nats below the bigram
   within 5 minutes).
"""

import argparse
import contextlib
import io
import re
import time

from benchmarks.common import emit, header
from micro.gpt import GPT, GRAD, GRAD_UNFUSED, main, train
from micro.prelude import Vocab, bigram_baseline, load_names, split


INPUTS = [
    "micro/gpt.py",
    "micro/autograd.py",
    "micro/optim.py",
    "benchmarks/gpt.py",
]
LONG_STEPS = 1000
DEFAULT_BUDGET = 60.0  # CPU seconds for the default command
LONG_BUDGET = 300.0  # CPU seconds for the long run
LONG_MARGIN = 0.15  # nats below the bigram for the long run
SPEED_TARGET = 4.0


def speed(rounds=2, steps=2, batch_size=8):
    """Tokens/s of each engine over the same steps; and the loss gap."""
    train_items, _ = split(load_names())
    vocab = Vocab.from_items(train_items)
    tokens = {GRAD.name: 0, GRAD_UNFUSED.name: 0}
    cpu = {GRAD.name: 0.0, GRAD_UNFUSED.name: 0.0}
    gap = 0.0
    for _ in range(rounds):
        losses = {}
        for ops in (GRAD_UNFUSED, GRAD):
            model = GPT.new(vocab, seed=0)
            run = train(model, train_items, steps, batch_size, ops=ops)
            tokens[ops.name] += run.tokens
            cpu[ops.name] += run.cpu
            losses[ops.name] = run.losses
        gap = max(
            gap,
            max(abs(a - b) for a, b in zip(*losses.values())),
        )
    per_s = {name: tokens[name] / cpu[name] for name in tokens}
    return per_s, gap


def command(argv):
    """stdout and CPU seconds of `python -m micro gpt ARGV`."""
    out = io.StringIO()
    start = time.process_time()
    with contextlib.redirect_stdout(out):
        main(argv)
    return out.getvalue(), time.process_time() - start


LINE = re.compile(r"^step +(\d+)/\d+ \| loss ([\d.]+) \| val ([\d.]+)", re.M)
FINAL = re.compile(r"gpt ([\d.]+) \| add-one bigram ([\d.]+)")


def loss_curve(text, width=48):
    """A text plot of the val losses on the progress lines of text."""
    points = [(int(s), float(tr), float(v)) for s, tr, v in LINE.findall(text)]
    gpt, bigram = map(float, FINAL.search(text).groups())
    low = min(min(v for _, _, v in points), bigram) - 0.05
    high = max(v for _, _, v in points)

    def column(x):
        return round((x - low) / (high - low) * width)

    rows = [f"val loss by step ('|' marks the bigram, {bigram:.4f}):"]
    for s, _, v in points:
        bar = ["#"] * column(v) + [" "] * (width + 1 - column(v))
        bar[column(bigram)] = "|"
        rows.append(f"  {s:>6} {v:.4f} {''.join(bar).rstrip()}")
    return rows, gpt, bigram


def verdict(ok):
    return "yes" if ok else "NO"


def main_benchmark(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpt")
    parser.add_argument("--long-steps", type=int, default=LONG_STEPS)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    train_items, val_items = split(load_names())
    bigram = bigram_baseline(train_items, val_items)["val"]
    lines = header("gpt", INPUTS)
    lines.append(f"bigram (add-one) val loss: {bigram:.4f} nats")

    per_s, gap = speed()
    ratio = per_s[GRAD.name] / per_s[GRAD_UNFUSED.name]
    lines += [
        "",
        "training speed, same model, batches and seed (tokens/s, CPU time):",
        f"  linear_unfused (one node per multiply) "
        f"{per_s[GRAD_UNFUSED.name]:8.1f}",
        f"  linear (one fused node per output)     {per_s[GRAD.name]:8.1f}",
        f"  speed-up {ratio:.1f}x; largest loss difference {gap:.1e}",
        f"target speed: fused at least {SPEED_TARGET:g}x: "
        f"{verdict(ratio >= SPEED_TARGET)}",
    ]

    text, cpu = command([])
    _, gpt, _ = loss_curve(text)
    lines += ["", "$ python -m micro gpt", *text.rstrip().splitlines()]
    lines += [
        f"whole command: {cpu:.1f}s CPU",
        f"target default: below the bigram within {DEFAULT_BUDGET:g}s: "
        f"{verdict(gpt < bigram and cpu <= DEFAULT_BUDGET)}",
    ]

    text, cpu = command(["--steps", str(args.long_steps)])
    curve, gpt, _ = loss_curve(text)
    lines += ["", f"$ python -m micro gpt --steps {args.long_steps}"]
    lines += [*text.rstrip().splitlines(), "", *curve]
    lines += [
        f"whole command: {cpu:.1f}s CPU",
        f"target long: {LONG_MARGIN:g} nats below the bigram within "
        f"{LONG_BUDGET:g}s: "
        f"{verdict(gpt <= bigram - LONG_MARGIN and cpu <= LONG_BUDGET)}",
    ]
    emit("gpt", lines, args.record)


if __name__ == "__main__":
    main_benchmark()
