"""mkdocs hook: the notebook pages' kernels import micro from this checkout.

Registered under `hooks:` in mkdocs.yml. mkdocs-jupyter executes each
book/notebooks/*.ipynb in a fresh Jupyter kernel whose working folder is
book/notebooks/, so `import micro` works only if micro is installed or on
PYTHONPATH. The kernel inherits mkdocs' environment: putting the repository
root first on PYTHONPATH makes every build run the notebooks against the
micro/ it builds the book from, installed or not.

nbconvert's page template also carries a module script that, when the page
has a Mermaid diagram, imports Mermaid from cdnjs. The notebooks draw no
diagram, and the site loads nothing from off its own host, so that script
is removed from the notebook pages.
"""

import os
import pathlib
import re


ROOT = pathlib.Path(__file__).resolve().parent.parent
MERMAID_SCRIPT = re.compile(
    r'<script type="module">(?:(?!</script>).)*?\bmermaid\b'
    r"(?:(?!</script>).)*</script>",
    re.DOTALL,
)


def on_config(config):
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT), *filter(None, paths)]
        )
    return config


def on_post_page(output, page, config):
    if page.file.src_uri.endswith(".ipynb"):
        output = MERMAID_SCRIPT.sub("", output)
    return output
