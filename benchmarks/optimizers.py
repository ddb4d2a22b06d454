"""The optimizers chapter's full comparison, recorded with its machine.

    python -m benchmarks.optimizers [--steps S] [--seed N] [--record]

Runs micro.optim.compare on the census names, exactly what
`python -m micro optimizers` prints: SGD, momentum, RMSProp and Adam, each
over the same grid of peak learning rates, on the turned valley, the
saddle and the neural bigram, with the total time on this machine.
"""

import argparse
import io

from benchmarks.common import emit, header
from micro.optim import compare
from micro.prelude import load_names


INPUTS = [
    "micro/optim.py",
    "micro/autograd.py",
    "micro/prelude.py",
    "micro/data/names.txt",
    "benchmarks/optimizers.py",
]


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.optimizers")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--record",
        action="store_true",
        help="also write benchmarks/results/optimizers.txt",
    )
    args = parser.parse_args()
    buffer = io.StringIO()
    compare(load_names(), args.steps, args.seed, out=buffer)
    lines = header("optimizers", INPUTS)
    lines += [
        f"command: python -m micro optimizers --steps {args.steps} "
        f"--seed {args.seed}",
        "",
        *buffer.getvalue().rstrip("\n").split("\n"),
    ]
    emit("optimizers", lines, args.record)


if __name__ == "__main__":
    main()
