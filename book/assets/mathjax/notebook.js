// MathJax for the notebook pages (book/notebooks/*.ipynb), served from this
// folder: mkdocs.yml's mkdocs-jupyter `custom_mathjax_url` points here.
//
// The files beside it are MathJax 3.2.2 from the npm package mathjax@3.2.2
// (es5/): startup.js, core.js, input/tex.js, output/chtml.js, its TeX font
// data output/chtml/fonts/tex.js and the font files
// output/chtml/fonts/woff-v2/; LICENSE is the package's (Apache 2.0).
// Only these are vendored, so nothing may be fetched on demand: TeX's
// autoload and require packages (which load extensions by URL) are off, and
// the combined tex-mml-chtml.js (whose menu names CDN addresses) is not used.
//
// The chapters keep KaTeX (assets/katex-init.js renders only arithmatex
// elements); notebook markdown has $...$ and $$...$$, which MathJax renders.
(function () {
  "use strict";

  var here = document.currentScript.src.replace(/\/[^/]*$/, "");

  if (window.MathJax && window.MathJax.typesetPromise) {
    // Already loaded (instant navigation to another notebook page).
    window.MathJax.typesetPromise();
    return;
  }
  window.MathJax = {
    loader: {
      load: ["input/tex", "output/chtml"],
      paths: { mathjax: here }
    },
    tex: {
      inlineMath: [["$", "$"], ["\\(", "\\)"]],
      displayMath: [["$$", "$$"], ["\\[", "\\]"]],
      processEscapes: true,
      packages: { "[-]": ["autoload", "require"] }
    },
    chtml: { fontURL: here + "/output/chtml/fonts/woff-v2" }
  };
  var script = document.createElement("script");
  script.src = here + "/startup.js";
  script.async = true;
  document.head.appendChild(script);
})();
