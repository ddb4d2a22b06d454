"""The one-source promise: the package is the book, and every example runs."""

import ast
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
from pytest_codeblocks import extract_from_file

from micro import tangle


ROOT = pathlib.Path(__file__).resolve().parent.parent
CHAPTERS = [ROOT / p for p in tangle.book_order(ROOT)]
PYTHON_WORDS = {
    "python",
    "py",
    "python3",
    "py3",
    "pycon",
    "{.python}",
    "{.py}",
    "ipython",
    "ipython3",
}
MARKER = re.compile(r"<!--[-\s]*pytest-codeblocks:(?P<key>[\w-]+)[-\s]*-->")
SKIP = re.compile(r"<!--\s*pytest\.mark\.skip(?:if)?\((?P<args>.*)\)\s*-->")


def ruff(*args):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_package_matches_book():
    result = subprocess.run(
        [sys.executable, "-m", "micro.tangle", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_ruff_check():
    result = ruff("check", "micro", "tests", "tools", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = ruff("format", "--check", "micro")
    assert result.returncode == 0, result.stdout + result.stderr


def fences(path):
    """(line, info, indent) of every opening fence, outer blocks only."""
    out, opened = [], None
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        match = tangle.FENCE.match(line)
        if opened is None and match:
            opened = match["fence"]
            out.append((number, match["info"].strip(), match["indent"]))
        elif (
            opened
            and match
            and not match["info"].strip()
            and match["fence"][0] == opened[0]
            and len(match["fence"]) >= len(opened)
        ):
            opened = None
    return out


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_every_python_fence_is_tangled_or_run(chapter):
    """pytest-codeblocks runs only ```python fences; nothing else may hide."""
    problems = []
    plain = 0
    for number, info, _ in fences(chapter):
        words = info.split()
        if not words or words[0].lower() not in PYTHON_WORDS:
            if "python" in info.lower():
                problems.append(
                    f"line {number}: fence {info!r} looks like "
                    "Python but is neither tangled nor run"
                )
            continue
        if words[0] == "python" and tangle.TITLE.search(info):
            if not tangle.TITLE.search(info)["path"].startswith("micro/"):
                problems.append(
                    f"line {number}: titled block {info!r} is "
                    "not a micro/ module and is not run"
                )
            continue
        if info == "python":
            plain += 1
            continue
        problems.append(
            f"line {number}: fence {info!r} is neither tangled "
            '(python title="micro/...") nor run (plain python)'
        )
    collected = [b for b in extract_from_file(chapter) if b.syntax == "python"]
    assert not problems, "\n".join(problems)
    assert len(collected) == plain, (
        f"pytest-codeblocks collects {len(collected)} blocks, the chapter "
        f"has {plain} plain python fences"
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_markers_attach_to_run_blocks(chapter):
    """An output or cont marker after a non-run fence would check nothing."""
    lines = chapter.read_text(encoding="utf-8").splitlines()
    starts = {number: info for number, info, _ in fences(chapter)}
    last_info = None
    problems = []
    for number, line in enumerate(lines, start=1):
        if number in starts:
            last_info = starts[number]
        marker = MARKER.search(line)
        if marker and marker["key"] in ("expected-output", "cont"):
            if last_info != "python":
                problems.append(
                    f"line {number}: {marker['key']} marker "
                    f"follows a {last_info!r} fence"
                )
        if marker and marker["key"] == "expected-output-ignore-whitespace":
            problems.append(f"line {number}: ignore-whitespace hides numbers")
        skip = SKIP.search(line)
        if skip and "reason=" not in skip["args"]:
            problems.append(f"line {number}: skip without a reason")
        if "pytest-codeblocks:skip" in line:
            problems.append(f"line {number}: use pytest.mark.skip(reason=)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_no_tilde_python_fences(chapter):
    text = chapter.read_text(encoding="utf-8")
    assert not re.search(r"^\s*~{3,}\s*\{?\.?py", text, re.M)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_no_executed_shell_fences(chapter):
    """Shell commands are shown in console fences; bash and sh ones run."""
    infos = [info for _, info, _ in fences(chapter)]
    assert not [i for i in infos if i.split()[:1] in (["bash"], ["sh"])]


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_micro_imports_only_stdlib_and_earlier_chapters():
    from micro import cli

    order = [cli.MODULES.get(name, name) for name in cli.CHAPTERS]
    machinery = {"cli", "tangle", "__main__", "__init__"}
    problems = []
    for path in sorted((ROOT / "micro").glob("*.py")):
        me = path.stem
        for name in imported_modules(path):
            top, _, rest = name.partition(".")
            if top == "micro":
                other = rest.split(".")[0] if rest else "__init__"
                if me in machinery or other in ("", "__init__"):
                    continue
                if other in machinery or order.index(other) >= order.index(me):
                    problems.append(
                        f"{path.name} imports micro.{other}, "
                        "which is not an earlier chapter"
                    )
            elif top not in sys.stdlib_module_names and top != "__future__":
                problems.append(f"{path.name} imports {name}")
    assert not problems, "\n".join(problems)


def test_every_chapter_module_is_on_the_command_line():
    from micro import cli

    modules = {p.stem for p in (ROOT / "micro").glob("*.py")}
    chapters = modules - {"cli", "tangle", "__main__", "__init__"}
    assert chapters == {cli.MODULES.get(n, n) for n in cli.CHAPTERS}
    nav = [pathlib.Path(p).stem for p in tangle.book_order(ROOT)]
    in_nav = [name for name in nav if name in cli.CHAPTERS]
    assert in_nav == list(cli.CHAPTERS), "nav and CLI disagree on the order"


def test_bundled_data_is_packaged(tmp_path):
    """A wheel built from the tree carries the data the chapters load."""
    if shutil.which("git") is None:
        pytest.skip("git is needed to list tracked data")
    listed = subprocess.run(
        ["git", "ls-files", "micro/data"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["micro"]
    for name in listed or [
        p.relative_to(ROOT).as_posix() for p in (ROOT / "micro/data").iterdir()
    ]:
        relative = pathlib.PurePosixPath(name).relative_to("micro")
        assert any(relative.match(p) for p in patterns), name
