// Keeps the period controls of the filter bar consistent: a preset clears custom dates, and
// picking a date switches the preset to "Custom".
(function () {
  "use strict";
  document.querySelectorAll("form.filter-bar").forEach(function (form) {
    var preset = form.elements.preset;
    var dates = [form.elements.start, form.elements.end];
    if (!preset) { return; }
    if (dates.some(function (input) { return input.value; })) { preset.value = "custom"; }
    preset.addEventListener("change", function () {
      if (preset.value !== "custom") { dates.forEach(function (input) { input.value = ""; }); }
    });
    dates.forEach(function (input) {
      input.addEventListener("change", function () { preset.value = "custom"; });
    });
  });
})();
