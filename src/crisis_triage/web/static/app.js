// crisis-triage dashboard: keyboard shortcuts, ticking waiting times, the help dialog.
// Plain JavaScript, no libraries; every page works without it (forms post normally).
"use strict";

(function () {
  function formatWait(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    var minutes = Math.floor(total / 60), secs = total % 60;
    var hours = Math.floor(minutes / 60), mins = minutes % 60;
    var days = Math.floor(hours / 24), hrs = hours % 24;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    if (days) return days + "d " + hrs + "h";
    if (hours) return hours + "h " + pad(mins) + "m";
    if (minutes) return minutes + "m " + pad(secs) + "s";
    return secs + "s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(since)) el.textContent = formatWait((now - since) / 1000);
    });
  }

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function openHelp() {
    var help = document.getElementById("help");
    if (help && !help.open) help.showModal();
  }

  // Pages register extra keys here (queue.js: j/k); data-key elements are clicked.
  window.ctShortcuts = window.ctShortcuts || {};

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var dialog = document.querySelector("dialog[open]");
    if (dialog) return;
    var key = event.key;
    if (key === "?") { event.preventDefault(); openHelp(); return; }
    if (window.ctShortcuts[key]) { window.ctShortcuts[key](event); return; }
    var target = document.querySelector('[data-key="' + CSS.escape(key) + '"]');
    if (!target || target.disabled) return;
    event.preventDefault();
    if (target.getAttribute("data-key-focus") !== null) { target.focus(); return; }
    target.click();
  });

  // Forms that undo something ask first (data-confirm holds the question).
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".help-open").forEach(function (b) {
      b.removeAttribute("data-key");
      b.addEventListener("click", openHelp);
    });
    tick();
    window.setInterval(tick, 1000);
  });

  window.ctFormatWait = formatWait;
  window.ctTick = tick;
})();
