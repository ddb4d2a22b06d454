"""The appendix pages: notation lists the book's symbols, references cite
the papers each chapter follows."""

import pathlib
import re

import pytest

from micro.cli import CHAPTERS


ROOT = pathlib.Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
NOTATION = BOOK / "notation.md"
REFERENCES = BOOK / "references.md"

# A Markdown link to a page of the book, with an optional #anchor.
PAGE_LINK = re.compile(r"\]\((?P<page>[\w./-]+\.md)(?:#[\w-]*)?\)")
HEADING = re.compile(r"^## (?P<title>.+)$", re.MULTILINE)
YEAR = re.compile(r"\((?:19|20)\d\d\)")
# A Greek letter (or \ell) inside the math of a chapter.
GREEK = re.compile(
    r"\\(alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|iota|"
    r"kappa|lambda|mu|nu|xi|pi|rho|sigma|tau|phi|varphi|chi|psi|omega|"
    r"ell)(?![A-Za-z])"
)

# Symbols and code names the notation page must document, one or more per
# chapter, written exactly as the page writes them.
KEY_SYMBOLS = [
    r"$V$",
    r"$\alpha$",
    r"$\mathcal{L}$",
    r"$c(a, b)$",
    r"$(a, b)^\ast$",
    r"$v_w$",
    r"$u_c$",
    r"$P_n(w)$",
    r"$\sigma(x)$",
    r"$\operatorname{PMI}(w, c)$",
    r"$\tau$",
    r"$s_{ik}$",
    r"$G_{ik}$",
    r"$W_{:,j}$",
    r"$\hat g_i$",
    r"$C_a$",
    r"$\eta$",
    r"$\theta$",
    r"$\mu$",
    r"$\beta_1$",
    r"$\hat m$",
    r"$\eta_{\min}$",
    r"$W_\text{te}$",
    r"$a_{ts}$",
    r"$W_q$",
]
KEY_CODE_NAMES = [
    "alpha",
    "num_merges",
    "W_in",
    "W_out",
    "tau",
    "partner",
    "g_hat",
    "beta1",
    "beta2",
    "m_hat",
    "v_hat",
    "eta_min",
    "n_embd",
    "block_size",
    "head_size",
    "top_k",
]


def sections(text):
    """{title: body} of the page's level-two sections."""
    marks = list(HEADING.finditer(text))
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return {m["title"]: text[m.end() : end] for m, end in zip(marks, ends)}


def math_of(text):
    """The inline and display math of a page, code blocks removed."""
    text = re.sub(r"^\s*(```|~~~).*?^\s*\1", "", text, flags=re.S | re.M)
    return re.findall(r"\$\$.+?\$\$|\$[^$\n]+\$", text, flags=re.S)


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_every_chapter_has_a_references_section(chapter):
    text = REFERENCES.read_text(encoding="utf-8")
    linked = [
        body
        for body in sections(text).values()
        if f"]({chapter}.md)" in body.split("\n- ")[0]
    ]
    assert len(linked) == 1, f"references.md: no one section for {chapter}"
    entries = [e for e in linked[0].split("\n- ")[1:] if YEAR.search(e)]
    assert entries, f"references.md: {chapter} cites no dated work"


def test_references_say_nothing_is_copied():
    text = REFERENCES.read_text(encoding="utf-8")
    assert "No code" in text or "no code" in text


@pytest.mark.parametrize("symbol", KEY_SYMBOLS)
def test_key_symbol_is_documented(symbol):
    assert symbol in NOTATION.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", KEY_CODE_NAMES)
def test_key_code_name_is_documented(name):
    spans = re.findall(r"`([^`]+)`", NOTATION.read_text(encoding="utf-8"))
    assert any(re.search(rf"\b{name}\b", span) for span in spans)


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_every_chapter_is_on_the_notation_page(chapter):
    assert f"]({chapter}.md)" in NOTATION.read_text(encoding="utf-8")


def test_every_greek_letter_in_the_book_is_documented():
    notation = NOTATION.read_text(encoding="utf-8")
    documented = {g for m in math_of(notation) for g in GREEK.findall(m)}
    missing = {}
    for chapter in CHAPTERS:
        text = (BOOK / f"{chapter}.md").read_text(encoding="utf-8")
        used = {g for m in math_of(text) for g in GREEK.findall(m)}
        for letter in sorted(used - documented):
            missing.setdefault(letter, []).append(chapter)
    assert not missing, f"add to notation.md: {missing}"


@pytest.mark.parametrize("page", [NOTATION, REFERENCES], ids=lambda p: p.name)
def test_linked_pages_exist(page):
    links = PAGE_LINK.findall(page.read_text(encoding="utf-8"))
    assert links
    missing = sorted({link for link in links if not (BOOK / link).is_file()})
    assert not missing, f"{page.name} links to missing pages: {missing}"
