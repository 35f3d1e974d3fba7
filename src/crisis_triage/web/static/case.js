// The case page: "r" goes to the resolve form; crisis types only go with a crisis disposition.
"use strict";

(function () {
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("resolve-form");
    if (!form) return;
    var types = form.querySelectorAll("fieldset")[1];
    function sync() {
      var chosen = form.querySelector('input[name="disposition"]:checked');
      var crisis = chosen && /crisis$/.test(chosen.value) && chosen.value !== "not_crisis";
      types.disabled = !crisis;
    }
    form.querySelectorAll('input[name="disposition"]').forEach(function (r) { r.addEventListener("change", sync); });
    sync();
    window.ctShortcuts.r = function (event) {
      event.preventDefault();
      var first = form.querySelector('input[name="disposition"]:checked') || document.getElementById("first-disposition");
      if (first) { first.focus(); first.scrollIntoView({ block: "center" }); }
    };
  });
})();
