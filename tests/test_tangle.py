"""The tangler: deterministic output and a check that names what to fix."""

import pathlib
import shutil

import pytest

from micro import tangle


FENCE = "`" * 3


def make_book(root, pages):
    (root / "book").mkdir()
    (root / "micro").mkdir()
    nav = "".join(f"  - {name}: {name}.md\n" for name in pages)
    (root / "mkdocs.yml").write_text(
        "site_name: t\nnav:\n" + nav + "theme:\n  name: material\n"
    )
    for name, blocks in pages.items():
        text = f"# {name}\n\n"
        for module, code in blocks:
            text += f'{FENCE}python title="{module}"\n{code}\n{FENCE}\n\n'
        (root / "book" / f"{name}.md").write_text(text)


def test_blocks_join_in_book_order(tmp_path):
    make_book(
        tmp_path,
        {
            "one": [("micro/a.py", "x = 1"), ("micro/b.py", "z = 3")],
            "two": [("micro/a.py", "\n\ny = 2\n\n")],
        },
    )
    out = tangle.tangle(tmp_path)
    assert out["micro/a.py"] == (
        "# Tangled from book/one.md, book/two.md: edit the chapter, not "
        "this file.\nx = 1\n\n\ny = 2\n"
    )
    assert out["micro/b.py"].splitlines()[1:] == ["z = 3"]
    assert tangle.tangle(tmp_path) == out


def test_check_names_stale_missing_and_orphaned(tmp_path, capsys):
    make_book(
        tmp_path, {"one": [("micro/a.py", "x = 1"), ("micro/b.py", "y = 2")]}
    )
    assert tangle.main(["--root", str(tmp_path)]) == 0
    assert tangle.main(["--root", str(tmp_path), "--check"]) == 0
    (tmp_path / "micro/a.py").write_text(
        (tmp_path / "micro/a.py").read_text().replace("x = 1", "x = 2")
    )
    (tmp_path / "micro/b.py").unlink()
    (tmp_path / "micro/stray.py").write_text("print('hi')\n")
    capsys.readouterr()
    assert tangle.main(["--root", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert (
        "stale: micro/a.py does not match book/one.md; edit book/one.md" in err
    )
    assert "+x = 2" in err
    assert "missing: micro/b.py" in err
    assert "orphaned: micro/stray.py" in err


def test_write_deletes_only_generated_orphans(tmp_path):
    make_book(tmp_path, {"one": [("micro/a.py", "x = 1")]})
    (tmp_path / "micro/old.py").write_text(
        "# Tangled from book/one.md: edit the chapter, not this file.\n"
    )
    (tmp_path / "micro/mine.py").write_text("x = 1\n")
    changes = tangle.write(tmp_path, tangle.tangle(tmp_path))
    assert not (tmp_path / "micro/old.py").exists()
    assert (tmp_path / "micro/mine.py").exists()
    assert "left micro/mine.py: it comes from no chapter" in changes


def test_examples_and_nested_fences_are_not_tangled(tmp_path):
    make_book(tmp_path, {"one": [("micro/a.py", "x = 1")]})
    page = tmp_path / "book/one.md"
    page.write_text(
        page.read_text()
        + (
            f"{FENCE}python\nprint('example')\n{FENCE}\n\n"
            f'````markdown\n{FENCE}python title="micro/a.py"\nbad = 1\n'
            f"{FENCE}\n````\n\n"
            f'!!! note\n    {FENCE}python title="micro/a.py"\n    y = 2\n'
            f"    {FENCE}\n"
        )
    )
    text = tangle.tangle(tmp_path)["micro/a.py"]
    assert "example" not in text and "bad" not in text
    assert text.endswith("x = 1\n\n\ny = 2\n")


@pytest.mark.parametrize(
    "page, message",
    [
        (f'{FENCE}python title="micro/a.py"\nx = 1\n', "never closed"),
        (f'{FENCE}text title="micro/a.py"\nx\n{FENCE}\n', "must be a python"),
        (f'{FENCE}python title="micro/a-b.py"\nx\n{FENCE}\n', "module path"),
    ],
)
def test_malformed_chapters_are_errors(tmp_path, page, message):
    make_book(tmp_path, {"one": []})
    (tmp_path / "book/one.md").write_text(page)
    with pytest.raises(tangle.TangleError, match=message):
        tangle.tangle(tmp_path)


def test_titled_block_outside_nav_is_an_error(tmp_path):
    make_book(tmp_path, {"one": [("micro/a.py", "x = 1")]})
    (tmp_path / "book/loose.md").write_text(
        f'{FENCE}python title="micro/c.py"\nz = 1\n{FENCE}\n'
    )
    with pytest.raises(tangle.TangleError, match="not in the nav"):
        tangle.tangle(tmp_path)


def test_missing_config_is_a_clear_error(tmp_path, capsys):
    assert tangle.main(["--root", str(tmp_path), "--check"]) == 2
    assert "mkdocs.yml not found" in capsys.readouterr().err


def test_hand_edit_of_real_module_is_caught(tmp_path):
    root = pathlib.Path(__file__).resolve().parent.parent
    shutil.copytree(root / "book", tmp_path / "book")
    shutil.copytree(
        root / "micro",
        tmp_path / "micro",
        ignore=shutil.ignore_patterns("__pycache__", "data"),
    )
    shutil.copy(root / "mkdocs.yml", tmp_path / "mkdocs.yml")
    assert tangle.problems(tmp_path, tangle.tangle(tmp_path)) == []
    path = tmp_path / "micro/prelude.py"
    path.write_text(path.read_text() + "\n# a quick fix\n")
    (message,) = tangle.problems(tmp_path, tangle.tangle(tmp_path))
    assert message.startswith(
        "stale: micro/prelude.py does not match "
        "book/prelude.md; edit book/prelude.md"
    )


def test_indented_block_must_continue_a_class(tmp_path):
    make_book(
        tmp_path,
        {
            "one": [
                ("micro/a.py", "class A:\n    x = 1"),
                ("micro/a.py", "    def f(self):\n        return 1"),
                ("micro/a.py", "def g():\n    return 2"),
            ]
        },
    )
    text = tangle.tangle(tmp_path)["micro/a.py"]
    assert "    x = 1\n\n    def f(self):" in text
    page = tmp_path / "book/one.md"
    page.write_text(
        page.read_text()
        + (
            f'{FENCE}python title="micro/a.py"\n    def h(self):\n'
            f"        return 3\n{FENCE}\n"
        )
    )
    with pytest.raises(tangle.TangleError, match="must continue a class"):
        tangle.tangle(tmp_path)


def test_indented_statements_may_continue_a_function(tmp_path):
    make_book(
        tmp_path,
        {
            "one": [
                ("micro/a.py", "def f():\n    x = 1"),
                ("micro/a.py", "    return x"),
            ]
        },
    )
    text = tangle.tangle(tmp_path)["micro/a.py"]
    assert text.endswith("def f():\n    x = 1\n\n    return x\n")
