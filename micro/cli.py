# Tangled from book/build.md: edit the chapter, not this file.
"""The command line: list the chapters, or run one of them.

python -m micro                       the chapters, in reading order
python -m micro <chapter> [options]   train and run one chapter
"""

import importlib
import sys


# Learning-path order; only chapters that exist.
CHAPTERS = {
    "prelude": "the data every chapter uses, and the bigram baseline",
    "tokenizer": "byte-level BPE: how text becomes numbers",
    "word2vec": "skip-gram with negative sampling",
    "embedding": "contrastive learning (InfoNCE): meaning as geometry",
    "autograd": "a scalar reverse-mode autodiff engine",
    "optimizers": "SGD, momentum, RMSProp and Adam, compared",
    "gpt": "a decoder-only transformer: sequences become predictions",
}
# A chapter whose module has a shorter name than the chapter.
MODULES = {"optimizers": "optim"}
USAGE = "usage: python -m micro [chapter] [options]"


def listing():
    width = max(map(len, CHAPTERS))
    lines = [USAGE, "", "chapters, in reading order:"]
    for number, (name, summary) in enumerate(CHAPTERS.items()):
        lines.append(f"  {number:>2}  {name:<{width}}  {summary}")
    lines.append("")
    lines.append("python -m micro <chapter> --help shows a chapter's options")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(listing())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in CHAPTERS:
        print(USAGE, file=sys.stderr)
        print(
            f"micro: error: unknown chapter {name!r}; choose from "
            f"{', '.join(CHAPTERS)}",
            file=sys.stderr,
        )
        return 2
    chapter = importlib.import_module(f"micro.{MODULES.get(name, name)}")
    return chapter.main(rest, prog=f"python -m micro {name}")
