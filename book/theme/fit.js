// Makes wide display formulas fit the column: each one that is wider than
// its column is set in a smaller type, down to 70% of the body's, and what
// is still too wide (and every wide table or code block) gets the class
// `scrolls`, which course.css draws with a visible scroll bar and a shadow.
// Runs again when the window changes size. Nothing is fetched from anywhere.
(function () {
    "use strict";
    var SMALLEST = 0.7;

    function fitFormula(display) {
        var katex = display.querySelector(".katex");
        if (!katex) { return; }
        katex.style.fontSize = "";
        var scale = 1;
        while (display.scrollWidth > display.clientWidth + 1 && scale > SMALLEST) {
            scale = Math.max(SMALLEST, scale - 0.05);
            katex.style.fontSize = (1.21 * scale) + "em"; // KaTeX's own size is 1.21em
        }
    }

    function markScrolling(element) {
        element.classList.toggle("scrolls", element.scrollWidth > element.clientWidth + 1);
    }

    function fitAll() {
        document.querySelectorAll(".katex-display").forEach(function (d) {
            fitFormula(d);
            markScrolling(d);
        });
        document.querySelectorAll(".table-wrapper, pre > code").forEach(markScrolling);
    }

    var pending = null;
    window.addEventListener("resize", function () {
        clearTimeout(pending);
        pending = setTimeout(fitAll, 100);
    });
    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", fitAll);
    } else {
        fitAll();
    }
    window.addEventListener("load", fitAll);
})();
