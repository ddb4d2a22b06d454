"""Checks of the book's site: its configuration and the HTML it builds.

The configuration tests read mkdocs.yml only. The rest build the site once
(module-scoped fixture) with `mkdocs build --strict` into a temporary folder
and read the result: no resource is loaded from off the site, KaTeX and its
fonts are served locally, every page links to its source for editing, and the
home page shows the whole learning path.
"""

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml


ROOT = Path(__file__).resolve().parents[1]
CONFIG_FILE = ROOT / "mkdocs.yml"

# The learning path, in reading order: (chapter file stem, name on the home
# page). The nav lists the chapters that exist, in this order.
LEARNING_PATH = [
    ("prelude", "Prelude"),
    ("tokenizer", "Tokenizer"),
    ("word2vec", "word2vec"),
    ("embedding", "Embedding"),
    ("autograd", "Autograd"),
    ("optimizers", "Optimizers"),
    ("gpt", "GPT"),
    ("bert", "BERT"),
    ("rag", "RAG"),
    ("rnn", "RNN"),
    ("conv", "Conv"),
    ("gan", "GAN"),
    ("diffusion", "Diffusion"),
    ("vae", "VAE"),
]
CHAPTER_INDEX = {stem: i for i, (stem, _) in enumerate(LEARNING_PATH)}

# The same pattern the stdlib tangler (book/build.md) uses to read nav lines.
NAV_PAGE = re.compile(r"^\s*-\s+(?:.*?:\s+)?(?P<page>[\w./-]+\.md)\s*$")

KATEX_FILES = [
    "katex.min.js",
    "katex.min.css",
    "contrib/auto-render.min.js",
    "LICENSE",
]

# <link rel=...> values that name a related page rather than load anything.
NON_LOADING_RELS = {
    "canonical",
    "alternate",
    "prev",
    "next",
    "author",
    "license",
    "edit",
    "me",
    "search",
}
CDN_HOSTS = re.compile(
    r"cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|"
    r"fonts\.googleapis\.com|fonts\.gstatic\.com|polyfill\.io|"
    r"cdn\.mathjax\.org|katex\.org/dist",
    re.IGNORECASE,
)


def load_config():
    with CONFIG_FILE.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def nav_pages(nav, section=None):
    """Yield (section, title, file) for every page of the nav, in order."""
    for entry in nav:
        assert isinstance(entry, dict) and len(entry) == 1, entry
        ((title, value),) = entry.items()
        if isinstance(value, list):
            yield from nav_pages(value, section=title)
        else:
            yield section, title, value


def is_external(url):
    url = url.strip()
    return bool(re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, re.IGNORECASE))


def page_html_path(site, md_file):
    """Built HTML of a page (use_directory_urls is on).

    A notebook page (.ipynb, mkdocs-jupyter) is built the same way.
    """
    stem = re.sub(r"\.(md|ipynb)$", "", md_file)
    if stem == "index":
        return site / "index.html"
    return site / stem.removesuffix("/index") / "index.html"


class TagCollector(HTMLParser):
    """Collect start tags with their attributes, and table rows as cells."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.rows = []
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v or "") for k, v in attrs}
        self.tags.append((tag, attrs))
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = {"text": "", "hrefs": []}
        elif tag == "a" and self._cell is not None and "href" in attrs:
            self._cell["hrefs"].append(attrs["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._cell["text"] = " ".join(self._cell["text"].split())
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def parse_html(path):
    parser = TagCollector()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


# --- configuration ---------------------------------------------------------


def test_config_is_plain_yaml():
    text = CONFIG_FILE.read_text(encoding="utf-8")
    code = [
        line.split(" #")[0]
        for line in text.splitlines()
        if not line.lstrip().startswith("#")
    ]
    tags = [line for line in code if re.search(r"(^|[\s:\-\[,])!", line)]
    assert not tags, f"YAML tags: {tags}"
    config = load_config()
    assert config["site_name"] == "micro"
    assert config["docs_dir"] == "book"
    assert config["site_url"] == "https://micro-book.github.io/micro/"
    assert config["repo_url"] == "https://github.com/micro-book/micro"
    assert config["repo_name"] == "micro-book/micro"
    assert config["edit_uri"] == "edit/main/book/"


def test_nav_pages_exist():
    config = load_config()
    pages = list(nav_pages(config["nav"]))
    assert pages, "the nav lists no pages"
    for _, title, file in pages:
        assert (ROOT / "book" / file).is_file(), f"{title}: book/{file}"
    files = [file for _, _, file in pages]
    assert len(files) == len(set(files)), "a page is listed twice"


def test_nav_follows_learning_path():
    pages = list(nav_pages(load_config()["nav"]))
    assert pages[0] == (None, "Home", "index.md")
    chapters = [
        (title, file)
        for section, title, file in pages
        if section is None and file != "index.md"
    ]
    appendix = [file for section, _, file in pages if section == "Appendix"]
    assert "build.md" in appendix
    # The companion notebooks (mkdocs-jupyter) are the only other section.
    sections = {None, "Notebooks", "Appendix"}
    assert [s for s, _, _ in pages if s not in sections] == []
    notebooks = [file for s, _, file in pages if s == "Notebooks"]
    assert all(file.endswith(".ipynb") for file in notebooks), notebooks
    # Every top-level page after Home is a learning-path chapter titled with
    # its number, and the chapters come in learning-path order.
    stems = [file[: -len(".md")] for _, file in chapters]
    assert stems, "no chapter in the nav"
    for title, file in chapters:
        stem = file[: -len(".md")]
        assert stem in CHAPTER_INDEX, f"{file} is not on the learning path"
        number = CHAPTER_INDEX[stem]
        assert title.startswith(f"{number}. "), (title, file)
    order = [CHAPTER_INDEX[s] for s in stems]
    assert order == sorted(order), stems
    # The notebooks come after every chapter, the appendix after them.
    sections = [section for section, _, _ in pages]
    rank = {None: 0, "Notebooks": 1, "Appendix": 2}
    assert sections == sorted(sections, key=rank.get)


def test_nav_lines_readable_by_tangler():
    """Each nav page sits on its own line in the form the tangler reads.

    The tangler reads .md pages only; notebook (.ipynb) lines are skipped.
    """
    lines = CONFIG_FILE.read_text(encoding="utf-8").splitlines()
    found, in_nav = [], False
    for line in lines:
        if line.startswith("nav:"):
            in_nav = True
        elif in_nav and line.strip() and not line[0].isspace():
            break
        elif in_nav and (match := NAV_PAGE.match(line)):
            found.append(match["page"])
    expected = [
        file
        for _, _, file in nav_pages(load_config()["nav"])
        if file.endswith(".md")
    ]
    assert found == expected


def test_theme_and_extensions():
    config = load_config()
    theme = config["theme"]
    assert theme["name"] == "material"
    assert theme["font"] is False, "no Google Fonts"
    features = theme["features"]
    for feature in ("content.code.copy", "content.action.edit"):
        assert feature in features
    palettes = theme["palette"]
    assert len(palettes) == 2 and all("toggle" in p for p in palettes)
    assert "search" in config["plugins"]

    extensions = {}
    for entry in config["markdown_extensions"]:
        if isinstance(entry, dict):
            extensions.update(entry)
        else:
            extensions[entry] = {}
    for name in (
        "admonition",
        "pymdownx.details",
        "pymdownx.superfences",
        "attr_list",
        "md_in_html",
        "pymdownx.inlinehilite",
    ):
        assert name in extensions, name
    assert extensions["toc"]["permalink"]
    assert extensions["pymdownx.tabbed"]["alternate_style"] is True
    assert extensions["pymdownx.highlight"]["pygments_lang_class"] is True
    assert extensions["pymdownx.arithmatex"]["generic"] is True
    snippets = extensions["pymdownx.snippets"]
    assert snippets["check_paths"] is True
    assert "." in snippets["base_path"], "snippets resolve from the root"


def test_math_assets_are_local():
    config = load_config()
    assets = config["extra_css"] + config["extra_javascript"]
    for asset in assets:
        assert not is_external(asset), asset
        assert (ROOT / "book" / asset).is_file(), asset
    for name in KATEX_FILES:
        assert (ROOT / "book" / "assets" / "katex" / name).is_file(), name
    init = (ROOT / "book" / "assets" / "katex-init.js").read_text("utf-8")
    assert ".arithmatex" in init
    if "navigation.instant" in config["theme"]["features"]:
        # Instant navigation swaps pages without reloading scripts.
        assert "document$.subscribe" in init
    # Scripts run in order: KaTeX, then auto-render, then our init.
    js = config["extra_javascript"]
    order = [
        js.index("assets/katex/katex.min.js"),
        js.index("assets/katex/contrib/auto-render.min.js"),
        js.index("assets/katex-init.js"),
    ]
    assert order == sorted(order)


def test_katex_css_fonts_present():
    """Every font katex.min.css names is vendored beside it."""
    katex = ROOT / "book" / "assets" / "katex"
    css = (katex / "katex.min.css").read_text(encoding="utf-8")
    urls = re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css)
    assert urls
    missing = [u for u in urls if not (katex / u).is_file()]
    assert not missing, missing


def test_no_cdn_in_our_sources():
    sources = [CONFIG_FILE, *sorted((ROOT / "book").rglob("*.md"))]
    sources += [
        p
        for p in sorted((ROOT / "book" / "assets").rglob("*"))
        if p.suffix in (".js", ".css", ".html")
    ]
    for path in sources:
        hit = CDN_HOSTS.search(path.read_text(encoding="utf-8"))
        assert not hit, f"{path.relative_to(ROOT)} names {hit.group(0)}"


# --- the built site --------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-q",
            "-f",
            str(CONFIG_FILE),
            "-d",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_no_external_resource_loads(site):
    loads = {
        "script": ["src"],
        "img": ["src", "srcset"],
        "iframe": ["src"],
        "source": ["src", "srcset"],
        "video": ["src", "poster"],
        "audio": ["src"],
        "embed": ["src"],
        "object": ["data"],
        "track": ["src"],
    }
    problems = []
    html_files = sorted(site.rglob("*.html"))
    assert html_files
    for path in html_files:
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(site)
        for tag, attrs in parse_html(path).tags:
            urls = []
            if tag == "link":
                rels = set(attrs.get("rel", "").lower().split())
                if not rels <= NON_LOADING_RELS:
                    urls.append(attrs.get("href", ""))
            for attr in loads.get(tag, []):
                value = attrs.get(attr, "")
                urls += (
                    [
                        part.split()[0]
                        for part in value.split(",")
                        if part.strip()
                    ]
                    if attr == "srcset"
                    else [value]
                )
            problems += [f"{rel}: <{tag}> {u}" for u in urls if is_external(u)]
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", text):
            if is_external(url):
                problems.append(f"{rel}: style url({url})")
        # mkdocs-material fetches mermaid from a CDN if a diagram appears.
        if 'class="mermaid"' in text:
            problems.append(f"{rel}: a mermaid diagram loads a CDN script")
    for path in sorted(site.rglob("*.css")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(site)
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", text):
            if is_external(url):
                problems.append(f"{rel}: url({url})")
        for url in re.findall(
            r"@import\s+(?:url\()?\s*['\"]?([^'\");]+)", text
        ):
            if is_external(url):
                problems.append(f"{rel}: @import {url}")
    for path in sorted(site.rglob("*.js")):
        text = path.read_text(encoding="utf-8")
        for url in re.findall(
            r"""\b(?:src|href)\s*=\s*\\?["']"""
            r"""((?:https?:)?//[^"'\\]+)""",
            text,
        ):
            problems.append(f"{path.relative_to(site)}: {url}")
    assert not problems, "\n".join(problems)


def test_katex_served_locally(site):
    katex = site / "assets" / "katex"
    for name in KATEX_FILES:
        assert (katex / name).is_file(), name
    css = (katex / "katex.min.css").read_text(encoding="utf-8")
    fonts = re.findall(r"url\(\s*['\"]?([^'\")]+)", css)
    assert any(f.endswith(".woff2") for f in fonts)
    missing = [f for f in fonts if not (katex / f).is_file()]
    assert not missing, missing


def test_every_page_loads_math(site):
    wanted = [
        "assets/katex/katex.min.js",
        "assets/katex/contrib/auto-render.min.js",
        "assets/katex-init.js",
    ]
    config = load_config()
    for _, _, file in nav_pages(config["nav"]):
        path = page_html_path(site, file)
        page_url = urljoin(
            config["site_url"], path.relative_to(site).as_posix()
        )
        tags = parse_html(path).tags
        scripts = [
            urlsplit(urljoin(page_url, a["src"])).path
            for t, a in tags
            if t == "script" and a.get("src")
        ]
        base = urlsplit(config["site_url"]).path
        got = [s[len(base) :] for s in scripts if s[len(base) :] in wanted]
        assert got == wanted, (file, scripts)
        sheets = [
            urlsplit(urljoin(page_url, a.get("href", ""))).path
            for t, a in tags
            if t == "link" and "stylesheet" in a.get("rel", "")
        ]
        assert base + "assets/katex/katex.min.css" in sheets, file


def test_edit_links(site):
    config = load_config()
    prefix = config["repo_url"].rstrip("/") + "/" + config["edit_uri"]
    for _, _, file in nav_pages(config["nav"]):
        tags = parse_html(page_html_path(site, file)).tags
        edits = [
            a["href"]
            for t, a in tags
            if t == "a" and "edit" in a.get("rel", "").split()
        ]
        assert edits == [prefix + file], (file, edits)
        assert edits[0].endswith(f"/edit/main/book/{file}")


def test_home_lists_learning_path(site):
    config = load_config()
    in_nav = {file[: -len(".md")] for _, _, file in nav_pages(config["nav"])}
    rows = [
        row
        for row in parse_html(site / "index.html").rows
        if row and row[0]["text"].isdigit()
    ]
    assert [int(row[0]["text"]) for row in rows] == list(
        range(len(LEARNING_PATH))
    )
    for row, (stem, name) in zip(rows, LEARNING_PATH, strict=True):
        cell = row[1]
        assert cell["text"].startswith(name), (cell, name)
        assert row[2]["text"], f"{stem}: no description"
        if stem in in_nav:
            assert cell["hrefs"] == [f"{stem}/"], (stem, cell)
            assert "to come" not in cell["text"]
        else:
            assert cell["hrefs"] == [], (stem, cell)
            assert "to come" in cell["text"], (stem, cell)
