// Keyboard shortcuts for the moderator page. Served from /static so that the
// Content-Security-Policy can forbid every inline script.
//   a approve · r reject · l relabel (focus the labels, then 1-3 toggle) · s skip
//   c claim · n next item · Esc leave a text field
"use strict";

(function () {
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    return tag === "INPUT" && el.type !== "checkbox" && el.type !== "radio";
  }

  // Relabel: move the focus to the label checkboxes (then 1-3 toggle them, r rejects with them).
  var relabel = document.getElementById("btn-relabel");
  if (relabel) {
    relabel.addEventListener("click", function () {
      var labels = document.getElementById("labels");
      var first = labels && labels.querySelector("input[type=checkbox]");
      if (first) { labels.classList.add("relabelling"); first.focus(); }
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var active = document.activeElement;
    if (event.key === "Escape" && active) { active.blur(); return; }
    if (typing(active)) return;
    var key = event.key.toLowerCase();
    var target = document.querySelector('[data-key="' + CSS.escape(key) + '"]');
    if (!target) return;
    event.preventDefault();
    if (target.type === "checkbox") { target.checked = !target.checked; target.focus(); return; }
    target.click();
  });
})();
