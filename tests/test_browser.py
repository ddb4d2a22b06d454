"""The built site in a real browser, with no network.

A module-scoped fixture builds the book once with `mkdocs build --strict`
into a temporary folder and serves it with http.server on a free port of
127.0.0.1. The build uses a temporary config that INHERITs mkdocs.yml and
only points site_url at that address (so mkdocs-material's instant
navigation, which intercepts links whose host matches site_url, is active
as on the published site) and makes the config's relative paths absolute.

Headless Chromium (Debian's /usr/bin/chromium, driven through the PyPI
playwright package; never `playwright install`) then opens every page of
the nav and of the sitemap and checks that:

- the page loads with no console error and no uncaught exception;
- no request leaves the site: every request off 127.0.0.1:PORT is aborted
  and reported, and every request on it must succeed;
- math is rendered: on a page whose HTML has arithmatex elements, each one
  holds KaTeX output, none is a `.katex-error`, and the KaTeX fonts come
  from the site;
- the page's figures (the <img> of the article whose src is on the site)
  have loaded (naturalWidth > 0).

Then: math renders after an instant-navigation page swap too, the search
box finds a chapter by a word from it, and the light/dark toggle switches
`data-md-color-scheme` between default and slate and keeps the choice.
Every chapter has a figure, and a notebook page's download link fetches
the notebook.

Without Chromium or playwright the module is skipped with the reason,
except under CI (the CI variable set), where that is a failure.
"""

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml


ROOT = Path(__file__).resolve().parents[1]
CONFIG_FILE = ROOT / "mkdocs.yml"
CHROMIUM = "/usr/bin/chromium"
# Flags that work for Debian's chromium here (see shared/TOOLING.md): no
# sandbox (root), no GPU, and none of the browser's own background traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000

# A word from a chapter, and the chapter the search must find with it.
SEARCHES = [
    ("InfoNCE", "embedding.md"),
    ("byte-pair", "tokenizer.md"),
]


def load_config():
    with CONFIG_FILE.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def nav_pages(nav, section=None):
    """Yield (section, title, file) for every page of the nav, in order."""
    for entry in nav:
        ((title, value),) = entry.items()
        if isinstance(value, list):
            yield from nav_pages(value, section=title)
        else:
            yield section, title, value


def page_path(file):
    """URL path of a page below the site root (use_directory_urls)."""
    stem = re.sub(r"\.(md|ipynb)$", "", file)
    if stem == "index":
        return ""
    return stem.removesuffix("/index") + "/"


NAV = list(nav_pages(load_config()["nav"]))
NAV_FILES = [file for _, _, file in NAV]
# The learning-path chapters: the top-level pages after Home.
CHAPTERS = [
    file for section, _, file in NAV if section is None and file != "index.md"
]


def under_ci():
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def chromium_path():
    """Chromium and playwright, or skip (fail under CI) saying what lacks."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[dev]')")
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else None
    path = path or shutil.which("chromium")
    if path is None:
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if under_ci():
            pytest.fail(reason + "; CI must run it", pytrace=False)
        pytest.skip(reason)
    return path


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def localhost_config(tmp, site_url):
    """A config that is mkdocs.yml with site_url pointing at the server.

    mkdocs resolves docs_dir, theme.custom_dir and hooks relative to the
    file that is loaded, here the temporary one, so they are made
    absolute. Snippets resolve from the working directory (the root).
    """
    parent = load_config()
    child = {
        "INHERIT": str(CONFIG_FILE),
        "site_url": site_url,
        "docs_dir": str(ROOT / parent.get("docs_dir", "docs")),
    }
    theme = parent.get("theme")
    if isinstance(theme, dict) and theme.get("custom_dir"):
        child["theme"] = {"custom_dir": str(ROOT / theme["custom_dir"])}
    if parent.get("hooks"):
        child["hooks"] = [str(ROOT / hook) for hook in parent["hooks"]]
    path = tmp / "mkdocs.yml"
    path.write_text(yaml.safe_dump(child), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def executable():
    return chromium_path()


@pytest.fixture(scope="module")
def site(executable, tmp_path_factory):
    """Build the site for http://127.0.0.1:PORT/ and serve it there.

    Returns (base URL, folder). The socket is bound before the build so
    that the port written into site_url is the one served.
    """
    tmp = tmp_path_factory.mktemp("browser")
    out = tmp / "site"
    out.mkdir()
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=out)
    )
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    config = localhost_config(tmp, base)
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q"]
        + ["-f", str(config), "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        server.server_close()
        pytest.fail(
            "mkdocs build --strict failed:\n" + result.stdout + result.stderr,
            pytrace=False,
        )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, out
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser(executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Watch:
    """A browser context that records what its pages do on the network.

    Every request off the site is aborted and kept in `offsite`; requests
    on it that fail or answer >= 400 go to `failed`; console errors and
    uncaught exceptions go to `errors`.
    """

    def __init__(self, browser, base, **options):
        self.origin = base.rstrip("/")
        self.offsite, self.failed, self.errors = [], [], []
        self.requests = []
        options.setdefault("viewport", {"width": 1280, "height": 900})
        options.setdefault("color_scheme", "light")
        self.context = browser.new_context(service_workers="block", **options)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.route("**/*", self._route)
        self.context.on("request", self._request)
        self.context.on("requestfailed", self._failed)
        self.context.on("response", self._response)

    def on_site(self, url):
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.origin

    def _route(self, route):
        url = route.request.url
        if self.on_site(url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.offsite.append(url)
            route.abort("blockedbyclient")

    def _request(self, request):
        self.requests.append(request.url)

    def _failed(self, request):
        if self.on_site(request.url):
            self.failed.append(f"{request.url}: {request.failure}")

    def _response(self, response):
        if self.on_site(response.url) and response.status >= 400:
            self.failed.append(f"{response.url}: HTTP {response.status}")

    def new_page(self):
        page = self.context.new_page()

        def console(message):
            if message.type == "error":
                where = message.location.get("url", "")
                self.errors.append(f"console: {message.text} ({where})")

        page.on("console", console)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        return page

    def problems(self):
        return (
            [f"request off the site: {u}" for u in self.offsite]
            + [f"failed request: {f}" for f in self.failed]
            + self.errors
        )

    def close(self):
        self.context.close()


@pytest.fixture
def watch(browser, site):
    base, _ = site
    watch = Watch(browser, base)
    yield watch
    watch.close()


def page_html(site, file):
    _, out = site
    return (out / page_path(file) / "index.html").read_text(encoding="utf-8")


def has_math(html):
    return re.search(r'class="[^"]*\barithmatex\b', html) is not None


# Wait until every arithmatex element holds KaTeX output.
MATH_RENDERED = """() => {
  const nodes = [...document.querySelectorAll(".arithmatex")];
  return nodes.length > 0 && nodes.every((n) => n.querySelector(".katex"));
}"""

# Load every figure of the article now (also lazy ones), then describe them.
FIGURES = """async (origin) => {
  const article = document.querySelector("article") || document.body;
  const imgs = [...article.querySelectorAll("img")].filter(
    (img) => new URL(img.src, location.href).origin === origin);
  await Promise.all(imgs.map((img) => {
    img.loading = "eager";
    if (img.complete) return null;
    return new Promise((done) => {
      img.addEventListener("load", done, { once: true });
      img.addEventListener("error", done, { once: true });
      setTimeout(done, 10000);
    });
  }));
  return imgs.map((img) => ({ src: img.src, width: img.naturalWidth }));
}"""


def wait_for(page, script, arg=None, explain=None):
    """page.wait_for_function; on a time-out, fail with explain()."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(script, arg=arg, timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        why = explain() if explain else f"timed out waiting for {script}"
        pytest.fail(f"{why} (after {TIMEOUT_MS / 1000:g} s)", pytrace=False)


MATH_COUNTS = """() => [
  document.querySelectorAll(".arithmatex").length,
  [...document.querySelectorAll(".arithmatex")].filter(
    (n) => n.querySelector(".katex")).length,
]"""


def check_math(page, watch, label):
    def explain():
        total, done = page.evaluate(MATH_COUNTS)
        return f"{label}: math not rendered: {done} of {total} formulas"

    wait_for(page, MATH_RENDERED, explain=explain)
    errors = page.locator(".katex-error").all_text_contents()
    assert not errors, f"{label}: KaTeX errors: {errors}"
    # The formulas are typeset in KaTeX's own fonts, served by the site.
    page.evaluate("document.fonts.ready.then(() => true)")
    fonts = [u for u in watch.requests if "/assets/katex/fonts/" in u]
    assert fonts, f"{label}: math shown without loading the KaTeX fonts"


def figures(page, watch):
    return page.evaluate(FIGURES, watch.origin)


def open_page(watch, url, idle=True):
    page = watch.new_page()
    page.goto(url, wait_until="load")
    if idle:
        # Let late scripts (search worker, KaTeX fonts) finish their loads.
        page.wait_for_load_state("networkidle")
    return page


def check_page(watch, url, html, label):
    page = open_page(watch, url)
    title = page.title()
    assert title, f"{label}: the page has no title"
    if has_math(html):
        check_math(page, watch, label)
    unloaded = [f["src"] for f in figures(page, watch) if f["width"] == 0]
    assert not unloaded, f"{label}: figures that did not load: {unloaded}"
    problems = watch.problems()
    assert not problems, f"{label}:\n" + "\n".join(problems)
    page.close()


# --- every page ------------------------------------------------------------


@pytest.mark.parametrize("file", NAV_FILES)
def test_page_loads_cleanly_offline(file, site, watch):
    base, _ = site
    check_page(watch, base + page_path(file), page_html(site, file), file)


def sitemap_urls(site):
    base, out = site
    tree = ET.parse(out / "sitemap.xml")
    locs = [el.text.strip() for el in tree.iter() if el.tag.endswith("loc")]
    assert locs and all(loc.startswith(base) for loc in locs), locs
    return locs


def test_sitemap_pages_load_cleanly_offline(site, browser):
    """Pages built but not in the nav get the same checks."""
    base, out = site
    urls = sitemap_urls(site)
    in_nav = {base + page_path(file) for file in NAV_FILES}
    assert in_nav <= set(urls), sorted(in_nav - set(urls))
    for url in sorted(set(urls) - in_nav):
        html = (out / url[len(base) :] / "index.html").read_text("utf-8")
        watch = Watch(browser, base)
        try:
            check_page(watch, url, html, url)
        finally:
            watch.close()


def test_some_page_has_math(site):
    """Guards the math check above against passing on no math at all."""
    assert any(has_math(page_html(site, f)) for f in NAV_FILES)


def test_math_renders_after_instant_navigation(site, watch):
    """A page swapped in by navigation.instant gets its math rendered."""
    base, _ = site
    target = next(f for f in CHAPTERS if has_math(page_html(site, f)))
    page = open_page(watch, base)
    page.evaluate("window.__same_document = true")
    # The nav link to the page (its href may be written relative or not).
    index = page.evaluate(
        """(wanted) => [...document.querySelectorAll(
             ".md-sidebar--primary a.md-nav__link")]
           .findIndex((a) => a.href === wanted)""",
        base + page_path(target),
    )
    assert index >= 0, f"no nav link to {target}"
    link = page.locator(".md-sidebar--primary a.md-nav__link").nth(index)
    link.click()
    page.wait_for_url(base + page_path(target))
    check_math(page, watch, target)
    assert page.evaluate("window.__same_document === true"), (
        "the link reloaded the page: instant navigation is not active"
    )
    page.wait_for_load_state("networkidle")
    assert not watch.problems(), "\n".join(watch.problems())


# --- figures ---------------------------------------------------------------


def test_every_chapter_has_a_figure(site, browser):
    base, _ = site
    # Figures are plain <img>: no need to run the pages' scripts (KaTeX).
    watch = Watch(browser, base, java_script_enabled=False)
    without = []
    for file in CHAPTERS:
        page = open_page(watch, base + page_path(file), idle=False)
        loaded = [f for f in figures(page, watch) if f["width"] > 0]
        if not loaded:
            without.append(file)
        page.close()
    watch.close()
    assert not without, f"chapters without a figure: {without}"
    assert not watch.problems(), "\n".join(watch.problems())


# --- search ----------------------------------------------------------------


# The pages in the search results, and whether one of them is `wanted`.
RESULT_PAGES = """() => [...new Set([...document.querySelectorAll(
  ".md-search-result__item a.md-search-result__link")]
  .map((a) => a.href.split(/[?#]/)[0]))]"""
FOUND = f"(wanted) => ({RESULT_PAGES})().includes(wanted)"


@pytest.mark.parametrize(("word", "file"), SEARCHES)
def test_search_finds_chapter(word, file, site, watch):
    source = (ROOT / "book" / file).read_text(encoding="utf-8")
    assert word.lower() in source.lower(), f"{word!r} is not in {file}"
    base, _ = site
    page = open_page(watch, base)
    page.locator(".md-search__input").click()
    page.keyboard.type(word, delay=20)
    wanted = base + page_path(file)

    def explain():
        found = page.evaluate(RESULT_PAGES)
        return f"searching {word!r} did not find {wanted}; found {found}"

    wait_for(page, FOUND, arg=wanted, explain=explain)
    assert not watch.problems(), "\n".join(watch.problems())


# --- light and dark --------------------------------------------------------


def scheme(page):
    return page.evaluate("document.body.dataset.mdColorScheme")


def toggle(page):
    # The palette shows one label at a time: the switch to the other one.
    page.locator('[data-md-component="palette"] label:visible').click()


def wait_scheme(page, wanted):
    wait_for(
        page,
        "(wanted) => document.body.dataset.mdColorScheme === wanted",
        arg=wanted,
        explain=lambda: (
            f"the toggle left the scheme {scheme(page)!r}, not {wanted!r}"
        ),
    )


def test_theme_toggle(site, browser, watch):
    base, _ = site
    page = open_page(watch, base)
    assert scheme(page) == "default"
    toggle(page)
    wait_scheme(page, "slate")
    # The choice is kept on the next page.
    page.goto(base + page_path(CHAPTERS[0]))
    assert scheme(page) == "slate"
    toggle(page)
    wait_scheme(page, "default")
    assert not watch.problems(), "\n".join(watch.problems())
    # A reader whose system is dark gets the dark scheme first.
    dark = Watch(browser, base, color_scheme="dark")
    try:
        page = open_page(dark, base)
        assert scheme(page) == "slate"
        assert not dark.problems(), "\n".join(dark.problems())
    finally:
        dark.close()


# --- notebooks -------------------------------------------------------------


def is_notebook(file, html):
    return file.endswith(".ipynb") or re.search(
        r'class="[^"]*\b(jupyter-wrapper|jp-Notebook)\b', html
    )


# Fetch a link from inside the page, as the reader's browser would.
FETCH = """async (href) => {
  const response = await fetch(href);
  return { status: response.status, text: await response.text() };
}"""


def test_notebook_download_works(site, watch):
    base, _ = site
    notebooks = [f for f in NAV_FILES if is_notebook(f, page_html(site, f))]
    assert notebooks, "no notebook page in the site"
    for file in notebooks:
        page = open_page(watch, base + page_path(file))
        # note: the edit link also ends in .ipynb but leaves the site.
        links = page.locator(
            'a[download], a[href$=".ipynb"]:not([rel~="edit"])'
        )
        assert links.count(), f"{file}: no notebook download link"
        for i in range(links.count()):
            link = links.nth(i)
            href = urljoin(page.url, link.get_attribute("href"))
            assert watch.on_site(href), f"{file}: {href} is off the site"
            got = page.evaluate(FETCH, href)
            assert got["status"] == 200, (file, href, got["status"])
            notebook = json.loads(got["text"])
            assert "cells" in notebook, f"{file}: {href} is not a notebook"
            if link.get_attribute("download") is not None:
                with page.expect_download() as info:
                    link.click()
                path = info.value.path()
                with open(path, encoding="utf-8") as f:
                    assert "cells" in json.load(f), (file, href)
        page.close()
    assert not watch.problems(), "\n".join(watch.problems())
