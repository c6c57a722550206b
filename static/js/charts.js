// Draws every chart on the page: each <div data-figure="ID"> gets the figure JSON from
// the <script type="application/json" id="ID"> that Django's json_script wrote.
(function () {
  "use strict";
  document.querySelectorAll("[data-figure]").forEach(function (target) {
    var source = document.getElementById(target.dataset.figure);
    if (!source || typeof Plotly === "undefined") { return; }
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(target, figure.data, figure.layout, { responsive: true, displaylogo: false })
      .then(function () { target.dataset.rendered = "true"; });
  });
})();
