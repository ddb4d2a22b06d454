"""mkdocs hooks: the Results page's table, built from the recorded bench.

Registered under `hooks:` in mkdocs.yml. On book/results.md the marker
below is replaced by a table of benchmarks/results/bench.json (written by
`python -m micro bench`). Each entry's fingerprint is recomputed from the
files as they are now; an entry whose files changed is shown as stale.

It also draws the book's figures (tools/figures.py) and adds each as a
generated file figures/<name>.svg, so a chapter shows one with
![alt](figures/<name>.svg) and `mkdocs build --strict` checks the link.
The SVGs are cached under .cache/figures/ by a fingerprint of micro/ and
tools/figures.py: an unchanged build reuses them.
"""

import hashlib
import html
import logging
import pathlib
import shutil
import subprocess
import sys


ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from micro import cli  # noqa: E402


RESULTS = ROOT / "benchmarks" / "results" / "bench.json"
MARKER = "<!-- bench-table -->"
PAGE = "results.md"
STALE_STYLE = "background-color: rgba(255, 145, 0, 0.18)"
COLUMNS = ("Chapter", "Quality figures", "Baselines", "Targets", "Run")
log = logging.getLogger("mkdocs.hooks.figures")


def named_values(values):
    return "<br>".join(
        f"{html.escape(name)}: <b>{html.escape(str(value))}</b>"
        for name, value in values.items()
    )


def targets(entry):
    return "<br>".join(
        ("✓ " if target["met"] else "✗ missed: ")
        + html.escape(target["target"])
        for target in entry["targets"]
    )


def run(entry):
    return "<br>".join(
        html.escape(line)
        for line in (
            f"{entry['wall_seconds']}s wall, {entry['cpu_seconds']}s CPU",
            f"{entry['date']}, Python {entry['python']}",
            entry["machine"],
        )
    )


def row(chapter, entry, current, link):
    name = html.escape(chapter)
    href = link(chapter) if link else None
    if href:
        name = f'<a href="{html.escape(href)}">{name}</a>'
    if entry is None:
        cells = [f"{name}<br>⚠ <b>not measured</b>", "", "", "", ""]
    else:
        code = f"<code>{html.escape(entry['fingerprint'])}</code>"
        status = (
            f"current<br>{code}"
            if current
            else f"⚠ <b>stale</b>: the code changed since<br>{code}"
        )
        cells = [
            f"{name}<br>{status}",
            named_values(entry["figures"]),
            named_values(entry["baselines"]),
            targets(entry),
            run(entry),
        ]
    style = f' style="{STALE_STYLE}"' if entry is None or not current else ""
    return f"<tr{style}><td>" + "</td><td>".join(cells) + "</td></tr>"


def render(results, root=ROOT, link=None):
    """The HTML of the results table, one row per chapter, stale marked."""
    chapters = [*cli.CHAPTERS, *sorted(set(results) - set(cli.CHAPTERS))]
    rows, stale = [], []
    for chapter in chapters:
        entry = results.get(chapter)
        current = entry is not None and cli.is_current(entry, root)
        if chapter not in cli.CHAPTERS:
            current = False
        if not current:
            stale.append(chapter)
        rows.append(row(chapter, entry, current, link))
    if stale:
        verdict = (
            f"⚠ <b>{len(stale)} of {len(chapters)} entries are not current"
            f"</b>: {html.escape(', '.join(stale))}. Run "
            "<code>python -m micro bench</code> to refresh them."
        )
    else:
        verdict = f"All {len(chapters)} entries are current."
    head = "".join(f"<th>{name}</th>" for name in COLUMNS)
    return "\n".join(
        [
            f"<p>{verdict}</p>",
            "<table>",
            f"<thead><tr>{head}</tr></thead>",
            "<tbody>",
            *rows,
            "</tbody>",
            "</table>",
        ]
    )


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri != PAGE:
        return markdown
    from mkdocs.exceptions import PluginError

    if MARKER not in markdown:
        raise PluginError(f"{PAGE} has no {MARKER} for the results table")
    try:
        results = cli.load_results(RESULTS)
    except cli.BenchError as error:
        raise PluginError(str(error)) from None

    def link(chapter):
        target = files.get_file_from_path(f"{chapter}.md")
        return target.url_relative_to(page.file) if target else None

    return markdown.replace(MARKER, render(results, link=link))


FIGURES_DIR = "figures"
FIGURES_CODE = ROOT / "tools" / "figures.py"
FIGURES_CACHE = ROOT / ".cache" / "figures"
DONE = "complete"


def figures_fingerprint(root=ROOT):
    """Hash of what the figures depend on: micro/, figures.py, matplotlib."""
    from importlib.metadata import version

    digest = hashlib.sha256(version("matplotlib").encode() + b"\0")
    files = sorted(
        path
        for path in (root / "micro").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    for path in [*files, root / "tools" / "figures.py"]:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def figures_svgs(cache=FIGURES_CACHE, root=ROOT):
    """{name: SVG text}: drawn in a fresh process unless cached for now."""
    from mkdocs.exceptions import PluginError

    here = cache / figures_fingerprint(root)
    if not (here / DONE).is_file():
        if cache.is_dir():
            for old in cache.iterdir():  # note: figures of older code
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
        done = subprocess.run(
            [sys.executable, str(FIGURES_CODE), "--out", str(here)],
            cwd=root,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise PluginError(
                "drawing the figures failed:\n" + done.stderr[-3000:]
            )
        for line in done.stdout.splitlines():
            log.info(line)
        (here / DONE).write_text("", encoding="utf-8")
    return {
        path.stem: path.read_text(encoding="utf-8")
        for path in sorted(here.glob("*.svg"))
    }


def on_files(files, config):
    """Add every figure as a generated file figures/<name>.svg."""
    from mkdocs.structure.files import File

    for name, svg in figures_svgs().items():
        src_uri = f"{FIGURES_DIR}/{name}.svg"
        old = files.get_file_from_path(src_uri)
        if old is not None:
            files.remove(old)
        files.append(File.generated(config, src_uri, content=svg))
    return files


def on_config(config):
    # `mkdocs serve` rebuilds when the recorded results, the figure code
    # or the tangled package change.
    config.watch.append(str(RESULTS))
    config.watch.append(str(FIGURES_CODE))
    config.watch.append(str(ROOT / "micro"))
    return config
