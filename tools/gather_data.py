"""Gather the bundled data once; the output is committed to micro/data/.

Run from the repository root with the interpreter whose standard library
should supply the docstrings (the committed files came from CPython 3.11.7):

    python tools/gather_data.py --names-dir DIR --kolaw FILE

DIR holds dist.male.first and dist.female.first from the PyPI package
`names` (0.3.0); FILE is konlpy/data/corpus/kolaw/constitution.txt from the
PyPI package `konlpy` (0.6.0). Only those data files are read; no code of
either package is used or copied.
"""

import argparse
import ast
import hashlib
import inspect
import pathlib
import sys
import sysconfig


OUT = pathlib.Path("micro/data")
SKIP_DIRS = {
    "test",
    "tests",
    "idlelib",
    "lib2to3",
    "site-packages",
    "ensurepip",
    "turtledemo",
    "__pycache__",
    "tkinter",
}
MAX_BYTES = 1_300_000


def census_names(names_dir):
    names = set()
    for part in ("male", "female"):
        path = pathlib.Path(names_dir) / f"dist.{part}.first"
        for line in path.read_text(encoding="ascii").splitlines():
            if line.strip():
                names.add(line.split()[0].lower())
    return sorted(names)


def docstrings(stdlib):
    seen = set()
    for path in sorted(stdlib.rglob("*.py")):
        rel = path.relative_to(stdlib)
        if SKIP_DIRS & set(rel.parts[:-1]) or rel.name.startswith("test_"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if not isinstance(
                node,
                (
                    ast.Module,
                    ast.ClassDef,
                    ast.FunctionDef,
                    ast.AsyncFunctionDef,
                ),
            ):
                continue
            doc = ast.get_docstring(node, clean=False)
            if not doc:
                continue
            doc = inspect.cleandoc(doc).strip()
            # One document per docstring: blank lines inside a docstring
            # are squeezed so that a blank line separates documents.
            lines = [ln.rstrip() for ln in doc.splitlines()]
            doc = "\n".join(ln for ln in lines if ln)
            if len(doc) < 40 or doc in seen or "\x0c" in doc:
                continue
            seen.add(doc)
            yield doc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--names-dir", required=True)
    ap.add_argument("--kolaw", required=True)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    names = census_names(args.names_dir)
    (OUT / "names.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    print(f"names: {len(names)}")

    stdlib = pathlib.Path(sysconfig.get_paths()["stdlib"])
    # Keep a spread over the whole library, not its first modules
    # alphabetically: take documents in the order of their SHA-256 until
    # the size budget is spent, then restore the library's own order.
    found = list(docstrings(stdlib))
    keep, size = set(), 0
    for doc in sorted(
        found, key=lambda d: hashlib.sha256(d.encode("utf-8")).hexdigest()
    ):
        size += len(doc.encode("utf-8")) + 2
        if size > MAX_BYTES:
            break
        keep.add(doc)
    docs = [doc for doc in found if doc in keep]
    print(f"stdlib docstrings found: {len(found)}")
    text = "\n\n".join(docs) + "\n"
    (OUT / "docstrings.txt").write_text(text, encoding="utf-8")
    print(
        f"docstrings: {len(docs)} documents, {len(text.encode())} bytes,"
        f" Python {sys.version.split()[0]}"
    )

    kolaw = pathlib.Path(args.kolaw).read_text(encoding="utf-8")
    lines = [ln.strip() for ln in kolaw.splitlines()]
    text = "\n".join(ln for ln in lines if ln) + "\n"
    (OUT / "constitution_ko.txt").write_text(text, encoding="utf-8")
    print(f"constitution: {len(text.encode())} bytes")


if __name__ == "__main__":
    main()
