// Render the math that pymdownx.arithmatex (generic mode) leaves in the page:
// inline math as <span class="arithmatex">\( ... \)</span> and display math as
// <div class="arithmatex">\[ ... \]</div>. Only those elements are touched, so
// a dollar sign in prose or code is never taken for math.
//
// With navigation.instant, mkdocs-material swaps page content in without
// reloading scripts; its document$ observable emits on the first load and on
// every swap, so rendering is hooked there. Without mkdocs-material's bundle
// (document$ undefined) the page is rendered once when it has loaded.
(function () {
  "use strict";

  var options = {
    delimiters: [
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false }
    ],
    // A formula with an error is shown in red instead of stopping the rest.
    throwOnError: false
  };

  function render(root) {
    var scope = root || document;
    var nodes = scope.querySelectorAll(".arithmatex");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      if (node.querySelector(".katex")) {
        continue; // already rendered
      }
      renderMathInElement(node, options);
    }
  }

  if (typeof document$ !== "undefined" && document$.subscribe) {
    document$.subscribe(function () {
      render(document);
    });
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      render(document);
    });
  } else {
    render(document);
  }
})();
