"""The companion notebooks: book/notebooks/<chapter>.ipynb.

Every chapter of the command line (micro.cli.CHAPTERS) has one, listed in
the nav's Notebooks section; each is committed without outputs, links to its
chapter, imports micro (the chapter's own module) and runs without error in a
fresh Jupyter kernel, here as in the build (mkdocs-jupyter, execute: true,
allow_errors: false). A notebook that raises must fail the build, and the
built notebook page carries the executed outputs and a download link to the
.ipynb, copied beside it.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from micro import cli


ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "book" / "notebooks"
CONFIG_FILE = ROOT / "mkdocs.yml"
CHAPTERS = list(cli.CHAPTERS)
CELL_SECONDS = 60  # each cell runs in seconds; this only stops a hang


def notebook(chapter):
    path = NOTEBOOKS / f"{chapter}.ipynb"
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell):
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def module(chapter):
    return cli.MODULES.get(chapter, chapter)


def load_config():
    with CONFIG_FILE.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def jupyter_plugin(config):
    for entry in config["plugins"]:
        if isinstance(entry, dict) and "mkdocs-jupyter" in entry:
            return entry["mkdocs-jupyter"]
    raise AssertionError("mkdocs-jupyter is not in mkdocs.yml's plugins")


def kernel_env():
    """The build's kernel environment: the repository first on PYTHONPATH."""
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, paths)))


def test_every_chapter_has_a_notebook():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(
        CHAPTERS
    )


def test_nav_lists_the_notebooks_between_chapters_and_appendix():
    nav = load_config()["nav"]
    titles = [next(iter(entry)) for entry in nav]
    assert titles.index("Notebooks") == titles.index("Appendix") - 1
    chapters = [
        value
        for entry in nav
        for value in entry.values()
        if isinstance(value, str) and value != "index.md"
    ]
    (section,) = [e["Notebooks"] for e in nav if "Notebooks" in e]
    files = [next(iter(entry.values())) for entry in section]
    assert files == [f"notebooks/{c}.ipynb" for c in CHAPTERS]
    # Titled like the chapter they accompany, in the same order.
    chapter_titles = [t for e in nav for t, v in e.items() if v in chapters]
    assert [next(iter(e)) for e in section] == chapter_titles


def test_plugin_executes_and_fails_on_errors():
    config = load_config()
    plugin = jupyter_plugin(config)
    assert "tools/notebook_hooks.py" in config["hooks"], "kernel finds micro"
    assert plugin["execute"] is True
    assert plugin["allow_errors"] is False, "a failing notebook must fail"
    assert plugin["include_source"] is True, "the download needs the file"
    assert plugin.get("cache") is False, "a cached page hides a failure"
    url = plugin["custom_mathjax_url"]
    assert not re.match(r"^(?:[a-z]+:)?//", url), "MathJax must be local"
    # Relative to a notebook page, notebooks/<chapter>/.
    local = (ROOT / "book" / "notebooks" / "x" / url).resolve()
    assert local.is_file(), url
    mathjax = local.parent
    for name in (
        "LICENSE",
        "startup.js",
        "core.js",
        "input/tex.js",
        "output/chtml.js",
        "output/chtml/fonts/tex.js",
    ):
        assert (mathjax / name).is_file(), name
    assert list((mathjax / "output/chtml/fonts/woff-v2").glob("*.woff"))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_notebook_is_clean_and_on_topic(chapter):
    nb = notebook(chapter)
    assert nb["nbformat"] == 4
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    cells = nb["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert len(code) >= 2, "a few cells that run the chapter"
    for cell in code:
        assert cell["outputs"] == [], "outputs are made by the build"
        assert cell["execution_count"] is None
    first = cells[0]
    assert first["cell_type"] == "markdown"
    assert f"](../../{chapter}/)" in source(first), "links to its chapter"
    imports = "\n".join(source(c) for c in code)
    pattern = rf"^\s*(from micro\.{module(chapter)} import|import micro)"
    assert re.search(pattern, imports, re.MULTILINE), "imports micro"
    assert f"micro.{module(chapter)}" in imports, "uses its chapter's module"
    ids = [c.get("id") for c in cells]
    assert len(set(ids)) == len(ids), "cell ids are unique"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_notebook_executes(chapter, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    for key, value in kernel_env().items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOKS / f"{chapter}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_SECONDS,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs for c in code[:1]), "the first cell shows output"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    # Deterministic: the same printed numbers on a second run.
    again = nbformat.read(NOTEBOOKS / f"{chapter}.ipynb", as_version=4)
    nbclient.NotebookClient(
        again,
        timeout=CELL_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    assert printed(again) == printed(nb)


def printed(nb):
    """All the text the cells printed, timings (like 0.3s) blanked."""
    text = "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    return re.sub(r"\d+\.\d+s\b", "", text)


def build(tmp_path, config_file):
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q"]
        + ["-f", str(config_file), "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def only_notebooks_config(tmp_path, docs, nav):
    """mkdocs.yml, inherited, on a small docs folder of notebooks."""
    parent = load_config()
    child = {
        "INHERIT": str(CONFIG_FILE),
        "docs_dir": str(docs),
        "nav": nav,
        "theme": {"custom_dir": str(ROOT / parent["theme"]["custom_dir"])},
        # Only the notebooks' hook: the others serve chapters and results.
        "hooks": [str(ROOT / "tools" / "notebook_hooks.py")],
        # The small folder has no math assets and no chapter to link to.
        "extra_css": [],
        "extra_javascript": [],
        "validation": {"links": {"not_found": "info", "anchors": "info"}},
    }
    path = tmp_path / "mkdocs.yml"
    path.write_text(yaml.safe_dump(child), encoding="utf-8")
    return path


def test_built_page_has_outputs_and_download(tmp_path):
    """Build one real notebook page; a raising notebook fails the build."""
    docs = tmp_path / "docs"
    (docs / "notebooks").mkdir(parents=True)
    (docs / "index.md").write_text("# Home\n", encoding="utf-8")
    chapter = "autograd"  # quick to run
    text = (NOTEBOOKS / f"{chapter}.ipynb").read_text(encoding="utf-8")
    (docs / "notebooks" / f"{chapter}.ipynb").write_text(text, "utf-8")
    nav = [
        {"Home": "index.md"},
        {"Notebook": f"notebooks/{chapter}.ipynb"},
    ]
    result = build(tmp_path, only_notebooks_config(tmp_path, docs, nav))
    assert result.returncode == 0, result.stdout + result.stderr
    page_dir = tmp_path / "site" / "notebooks" / chapter
    html = (page_dir / "index.html").read_text(encoding="utf-8")
    assert "jp-OutputArea-output" in html, "the page was not executed"
    assert "gradient check" in html, "the chapter's output is on the page"
    link = re.search(
        rf'<a href="{chapter}\.ipynb" download="{chapter}\.ipynb"', html
    )
    assert link, "no download button"
    copied = json.loads((page_dir / f"{chapter}.ipynb").read_text("utf-8"))
    assert copied == json.loads(text), "the download is the source notebook"
    assert "cdnjs" not in html and "cdn.jsdelivr" not in html

    # The same notebook with a cell that raises: the build must fail.
    broken = json.loads(text)
    broken["cells"].append(
        {
            "cell_type": "code",
            "id": "raises",
            "metadata": {},
            "source": ["raise ValueError('this notebook is broken')"],
            "execution_count": None,
            "outputs": [],
        }
    )
    (docs / "notebooks" / f"{chapter}.ipynb").write_text(
        json.dumps(broken), "utf-8"
    )
    result = build(tmp_path, only_notebooks_config(tmp_path, docs, nav))
    assert result.returncode != 0
    assert "this notebook is broken" in result.stdout + result.stderr
