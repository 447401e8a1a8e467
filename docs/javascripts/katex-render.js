// Renders the math of pymdownx.arithmatex (generic mode) with the vendored KaTeX (javascripts/katex/):
// inline math is <span class="arithmatex">\(...\)</span>, display math <div class="arithmatex">\[...\]</div>.
// No CDN: KaTeX's script and stylesheet are loaded from beside this file, so the site works offline.
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL("katex/", script ? script.src : window.location.href).href;

  function stripDelimiters(text) {
    var tex = text.trim();
    var pairs = [["\\(", "\\)"], ["\\[", "\\]"], ["$$", "$$"], ["$", "$"]];
    for (var i = 0; i < pairs.length; i++) {
      var open = pairs[i][0], close = pairs[i][1];
      if (tex.length >= open.length + close.length && tex.startsWith(open) && tex.endsWith(close)) {
        return tex.slice(open.length, tex.length - close.length);
      }
    }
    return tex;
  }

  function render(root) {
    var nodes = (root || document).querySelectorAll(".arithmatex");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      if (node.getAttribute("data-katex") === "done") continue;
      var display = node.tagName === "DIV";
      try {
        window.katex.render(stripDelimiters(node.textContent), node, {displayMode: display, throwOnError: false});
        node.setAttribute("data-katex", "done");
      } catch (err) {
        node.setAttribute("data-katex", "error");  // leave the TeX source visible
      }
    }
  }

  function whenKatex(callback) {
    if (window.katex) { callback(); return; }
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = base + "katex.min.css";
    document.head.appendChild(link);
    var tag = document.createElement("script");
    tag.src = base + "katex.min.js";
    tag.onload = callback;
    document.head.appendChild(tag);
  }

  function start() {
    whenKatex(function () {
      if (window.document$ && typeof window.document$.subscribe === "function") {
        window.document$.subscribe(function () { render(document); });  // Material's instant navigation
      } else {
        render(document);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
