"""The book's figures, drawn at build time from the book's own code.

Each figure function imports micro, runs a chapter's code at a small size
with a fixed seed, and draws the result with matplotlib (Agg, SVG). The
mkdocs hook (tools/mkdocs_hooks.py) serves every figure
as figures/<name>.svg; a chapter shows one with ![alt](figures/<name>.svg).

matplotlib belongs to the tooling only: micro/ never imports it.
Output is byte-stable: a fixed svg.hashsalt, no Date in the metadata, and
every number drawn comes from a seeded run. The hook runs this file in a
fresh process (`python tools/figures.py --out DIR`), so it always draws
with the micro/ on disk, and caches the SVGs (see the hook).
"""

import argparse
import functools
import io
import math
import pathlib
import random
import sys
import time


ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402


matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from micro import (  # noqa: E402
    autograd,
    embedding,
    gpt,
    optim,
    prelude,
    tokenizer,
    word2vec,
)


PREVIEW = ROOT / ".cache" / "figures-preview"
STYLE = {
    "svg.hashsalt": "micro-figures",
    "svg.fonttype": "path",
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def to_svg(fig):
    """The SVG text of a matplotlib figure, with no date in it."""
    buffer = io.StringIO()
    fig.savefig(
        buffer,
        format="svg",
        bbox_inches="tight",
        metadata={
            "Date": None,
        },
    )
    plt.close(fig)
    return buffer.getvalue()


def figure(width, height, **subplots):
    return plt.subplots(figsize=(width, height), **subplots)


class Recorder:
    """A stand-in for prelude.Progress that keeps the metrics it is given.

    Training functions call progress.due(step) and progress.log(step,
    **metrics); this records (step, metrics) instead of printing a line.
    """

    def __init__(self, every=1):
        self.every = every
        self.points = []

    def due(self, step):
        return step == 1 or step % self.every == 0

    def log(self, step, **metrics):
        if self.due(step):
            self.points.append((step, metrics))

    def end(self, step, **metrics):
        self.points.append((step, metrics))


# -- prelude -----------------------------------------------------------------


def prelude_bigrams():
    """Counts of each next character after each character, census names."""
    train, _ = prelude.split(prelude.load_names())
    vocab = prelude.Vocab.from_items(train)
    model = prelude.Bigram(len(vocab), alpha=0)
    model.fit(vocab.encode(name) for name in train)
    ids = [i for i in range(len(vocab)) if i != prelude.UNKNOWN]
    counts = [[model.counts[a][b] for b in ids] for a in ids]
    labels = [vocab.symbol(i) for i in ids]

    fig, ax = figure(6.4, 5.6)
    ax.grid(False)
    shown = [[math.log10(1 + c) for c in row] for row in counts]
    image = ax.imshow(shown, cmap="Blues", interpolation="nearest")
    ax.set_xticks(range(len(ids)), labels, fontsize=8)
    ax.set_yticks(range(len(ids)), labels, fontsize=8)
    ax.set_xlabel("next character b  ('.' = end of name)")
    ax.set_ylabel("character a  ('.' = start of name)")
    ax.set_title("Bigram counts of the training names")
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("log10(1 + count of a followed by b)")
    return to_svg(fig)


# -- tokenizer ---------------------------------------------------------------

MERGE_STEPS = (0, 25, 50, 100, 200, 300, 400, 600, 800, 1000)


def tokenizer_compression():
    """Held-out bytes per token against vocabulary size, one training run."""
    train_docs, english, korean = tokenizer.corpus()
    tok = tokenizer.train(train_docs, MERGE_STEPS[-1])
    steps = [k for k in MERGE_STEPS if k <= len(tok.merges)]
    fig, ax = figure(6.4, 3.6)
    for label, docs, marker in (
        ("English docstrings", english, "o"),
        ("Korean constitution", korean, "s"),
    ):
        sizes, ratios = [], []
        for k in steps:
            small = tok.truncated(k)
            sizes.append(len(small))
            ratios.append(tokenizer.bytes_per_token(small, docs))
        ax.plot(sizes, ratios, marker=marker, label=label)
    ax.set_xlabel("vocabulary size (256 bytes + merges)")
    ax.set_ylabel("held-out bytes per token")
    ax.set_title("Compression grows with the merges learned")
    ax.set_ylim(bottom=0)
    ax.legend()
    return to_svg(fig)


# -- word2vec ----------------------------------------------------------------

W2V_DOCS = 1500  # training documents: a third of the split, to stay fast


def word2vec_scores():
    """Held-out pairs: true score minus its negative's, before and after."""
    train_docs, heldout_docs = prelude.split(prelude.load_docstrings())
    train_docs = train_docs[:W2V_DOCS]
    vocab = word2vec.Vocabulary.build(train_docs, min_count=5)
    model = word2vec.train(train_docs, vocab, dim=16, epochs=1, seed=0)
    untrained = word2vec.SGNS(
        vocab, *word2vec.init_vectors(len(vocab), 16, random.Random(0))
    )
    pairs = word2vec.heldout_pairs(heldout_docs, vocab)
    negatives = word2vec.heldout_negatives(pairs, vocab, seed=0)

    fig, ax = figure(6.4, 3.4)
    bins = [-3.0 + 6.0 * i / 60 for i in range(61)]
    for label, vectors in (
        ("untrained vectors", untrained),
        ("trained, one epoch", model),
    ):
        margins = [
            max(-3.0, min(3.0, vectors.score(w, c) - vectors.score(w, n)))
            for (w, c), n in zip(pairs, negatives)
        ]
        ax.hist(margins, bins=bins, alpha=0.6, label=label)
    ax.axvline(0.0, color="black", linewidth=1)
    ax.set_xlabel("score of the true pair - score of its negative")
    ax.set_ylabel("held-out pairs")
    ax.set_title("Right of the line: the pair AUC counts a win")
    ax.legend(fontsize=8)
    return to_svg(fig)


# -- embedding ---------------------------------------------------------------

EMB_STEPS = 100


def embedding_cosines():
    """Cosine of name+typo vs random pairs, random vs learned projection."""
    names = list(dict.fromkeys(prelude.load_names()))
    train_names, held_out = embedding.check_names(names, 32)
    rng = random.Random(0)
    W0 = embedding.random_projection(32, rng=rng)
    W = [col[:] for col in W0]
    embedding.train(W, train_names, EMB_STEPS, 32, 0.1, 1.0, rng)

    alphabet = sorted(set("".join(train_names)))
    eval_rng = random.Random(1)
    typos = embedding.typo_queries(held_out, names, eval_rng, alphabet)
    pairs = embedding.random_pairs(held_out, len(held_out), eval_rng)
    fig, axes = figure(8.4, 3.2, ncols=2, sharey=True)
    bins = [-0.4 + 1.4 * i / 35 for i in range(36)]
    for ax, (title, table) in zip(
        axes,
        (("random projection", W0), (f"learned, {EMB_STEPS} steps", W)),
    ):
        method = embedding.Projected(table)
        positive = [
            method.similarity(method.embed(a), method.embed(b))
            for a, b in zip(held_out, typos)
        ]
        other = [
            method.similarity(method.embed(a), method.embed(b))
            for a, b in pairs
        ]
        ax.hist(other, bins=bins, alpha=0.6, label="two different names")
        ax.hist(positive, bins=bins, alpha=0.6, label="name and its typo")
        ax.set_title(title)
        ax.set_xlabel("cosine of the embeddings")
    axes[0].set_ylabel("held-out pairs")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return to_svg(fig)


# -- autograd ----------------------------------------------------------------

BIGRAM_STEPS = 300


def autograd_bigram():
    """The neural bigram's training loss against the count bigram's."""
    train, val = prelude.split(prelude.load_names())
    _, vocab, losses = autograd.train_bigram(train, steps=BIGRAM_STEPS)
    floor = prelude.bigram_baseline(train, val, vocab)["train_mle"]
    fig, ax = figure(6.4, 3.4)
    ax.plot(range(1, len(losses) + 1), losses, label="neural bigram (W)")
    ax.axhline(
        floor, color="black", linestyle="--", label="count bigram (MLE)"
    )
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("training loss (nats per character)")
    ax.set_title("Gradient descent on W approaches the counts")
    ax.legend()
    return to_svg(fig)


# -- optimizers --------------------------------------------------------------

PATH_STEPS = 100


def traced(task):
    """(task, path): the task, also recording every parameter point."""
    path = []  # [steps + 1][2] the parameters at each loss evaluation

    def loss(params):
        path.append([p.data for p in params])
        return task.loss(params)

    return optim.Task(
        task.name, task.about, task.start, loss, task.target
    ), path


def optimizer_paths():
    """Each optimizer's path at its best swept rate on the 2D landscapes."""
    tasks = optim.landscapes()
    warmup = max(1, PATH_STEPS // 20)
    fig, axes = figure(8.8, 4.0, ncols=2)
    for ax, task in zip(axes, tasks):
        paths = {}
        for name, make in optim.OPTIMIZERS.items():
            runs = [
                optim.train(task, make, lr, PATH_STEPS, warmup)
                for lr in optim.LRS
            ]
            top = optim.best(runs)
            if top is None:
                continue
            probe, path = traced(task)
            optim.train(probe, make, top.lr, PATH_STEPS, warmup)
            paths[f"{name} (lr {top.lr:g})"] = path
        draw_landscape(ax, task, paths)
    fig.tight_layout()
    return to_svg(fig)


def draw_landscape(ax, task, paths):
    points = [xy for path in paths.values() for xy in path]
    xs = [x for x, _ in points] + [task.start()[0].data]
    ys = [y for _, y in points] + [task.start()[1].data]
    x0, x1 = max(-2.0, min(xs) - 0.3), min(2.0, max(xs) + 0.3)
    y0, y1 = max(-2.0, min(ys) - 0.3), min(2.0, max(ys) + 0.3)
    n = 40
    gx = [x0 + (x1 - x0) * i / (n - 1) for i in range(n)]
    gy = [y0 + (y1 - y0) * j / (n - 1) for j in range(n)]
    gz = [
        [math.log10(1e-3 + max(0.0, task.loss([x, y]))) for x in gx]
        for y in gy
    ]
    ax.contourf(gx, gy, gz, levels=12, cmap="Greys", alpha=0.5)
    ax.grid(False)
    for label, path in paths.items():
        ax.plot(
            [x for x, _ in path],
            [y for _, y in path],
            marker=".",
            markersize=3,
            linewidth=1,
            label=label,
        )
    ax.plot(*[v.data for v in task.start()], "k*", markersize=10)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(f"{task.name}: {PATH_STEPS} steps from the star")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=7, loc="best")


# -- gpt ---------------------------------------------------------------------

GPT_STEPS = 80
GPT_SIZES = {"n_embd": 8, "n_head": 2, "n_hidden": 32, "block_size": 16}
GPT_VAL = 100  # held-out names scored on each curve point
GPT_NAME = "emma"


@functools.cache
def gpt_run():
    """A small GPT trained briefly on the names, and what training saw."""
    train, val = prelude.split(prelude.load_names())
    vocab = prelude.Vocab.from_items(train)
    model = gpt.GPT.new(vocab, seed=0, **GPT_SIZES)
    trained = gpt.train(
        model,
        train,
        GPT_STEPS,
        seed=0,
        progress=Recorder(every=GPT_STEPS // 8),
        val_items=val[:GPT_VAL],
    )
    return model, trained, train, val


def gpt_loss():
    """Training loss per step and validation loss at the curve points."""
    model, trained, train, val = gpt_run()
    floor = prelude.bigram_baseline(train, val, model.vocab)["val"]
    fig, ax = figure(6.4, 3.4)
    steps = range(1, len(trained.losses) + 1)
    ax.plot(steps, trained.losses, alpha=0.5, label="training batch loss")
    points = [(t, v) for t, _, v in trained.curve if v is not None]
    ax.plot(
        [t for t, _ in points],
        [v for _, v in points],
        marker="o",
        label=f"validation loss ({GPT_VAL} held-out names)",
    )
    ax.axhline(
        floor, color="black", linestyle="--", label="count bigram, validation"
    )
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (nats per character)")
    ax.set_title(f"A small GPT, {GPT_STEPS} seeded steps")
    ax.legend(fontsize=8)
    return to_svg(fig)


def gpt_attention():
    """Each head's attention weights while the small GPT reads one name."""
    model, _, _, _ = gpt_run()
    symbols, heads = gpt.attention_weights(model, GPT_NAME)
    n = len(symbols)
    fig, axes = figure(3.0 * len(heads) + 0.6, 3.0, ncols=len(heads))
    axes = axes if len(heads) > 1 else [axes]
    for h, (ax, a) in enumerate(zip(axes, heads)):
        grid = [row + [math.nan] * (n - len(row)) for row in a]
        image = ax.imshow(grid, cmap="viridis", vmin=0.0, vmax=1.0)
        ax.grid(False)
        ax.set_xticks(range(n), symbols)
        ax.set_yticks(range(n), symbols)
        ax.set_xlabel("position read (key)")
        ax.set_title(f"head {h}")
    axes[0].set_ylabel("position predicting (query)")
    fig.colorbar(image, ax=list(axes), shrink=0.85, label="weight a_ts")
    fig.suptitle(f"Attention while reading '{GPT_NAME}', layer 0")
    return to_svg(fig)


# -- the registry and its cache ----------------------------------------------

# name -> (chapter page that shows it, the function that draws it)
FIGURES = {
    "prelude-bigram-counts": ("prelude", prelude_bigrams),
    "tokenizer-compression": ("tokenizer", tokenizer_compression),
    "word2vec-scores": ("word2vec", word2vec_scores),
    "embedding-cosines": ("embedding", embedding_cosines),
    "autograd-bigram-loss": ("autograd", autograd_bigram),
    "optimizers-paths": ("optimizers", optimizer_paths),
    "gpt-loss": ("gpt", gpt_loss),
    "gpt-attention": ("gpt", gpt_attention),
}


def draw(name):
    """The SVG text of one figure, drawn now."""
    _, function = FIGURES[name]
    with matplotlib.rc_context(STYLE):
        return function()


def write(out, names=None, log=print):
    """Draw the named figures (all by default) into out/<name>.svg."""
    out.mkdir(parents=True, exist_ok=True)
    for name in names or FIGURES:
        start = time.perf_counter()
        svg = draw(name)
        partial = out / f"{name}.tmp"
        partial.write_text(svg, encoding="utf-8")
        partial.replace(out / f"{name}.svg")
        log(f"figure {name}: {time.perf_counter() - start:.1f}s")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python tools/figures.py",
        description="Draw the book's figures as SVG files.",
    )
    parser.add_argument("--out", type=pathlib.Path, default=PREVIEW)
    parser.add_argument("names", nargs="*", help="figures (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(FIGURES))
    if unknown:
        parser.error(f"no figure named {', '.join(unknown)}")
    write(args.out, args.names)


if __name__ == "__main__":
    main()
