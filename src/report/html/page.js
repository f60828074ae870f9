(function () {
  "use strict";
  var box = document.getElementById("filter");
  var q = document.getElementById("q");
  var shown = document.getElementById("shown");
  if (!box || !q || !shown) {
    return;
  }
  box.hidden = false;
  var items = Array.prototype.slice.call(document.querySelectorAll("[data-kind]"));
  var functions = Array.prototype.slice.call(document.querySelectorAll("details.fd"));
  var fields = ["package", "file", "kind", "check", "function"];
  function field(el, key) {
    return (el.getAttribute("data-" + key) || "").toLowerCase();
  }
  function matches(el, term) {
    var i = term.indexOf(":");
    if (i > 0 && fields.indexOf(term.slice(0, i)) >= 0) {
      return field(el, term.slice(0, i)).indexOf(term.slice(i + 1)) >= 0;
    }
    return fields.some(function (key) {
      return field(el, key).indexOf(term) >= 0;
    });
  }
  function apply() {
    var terms = q.value.toLowerCase().split(/\s+/).filter(Boolean);
    var visible = 0;
    var keys = {};
    items.forEach(function (el) {
      var ok = terms.every(function (t) {
        return matches(el, t);
      });
      el.hidden = !ok;
      if (ok) {
        visible += 1;
        keys[field(el, "package") + " " + field(el, "function")] = true;
      }
    });
    functions.forEach(function (el) {
      var name = el.querySelector("summary code").textContent.toLowerCase();
      var pkg = el.querySelector("summary .pkg").textContent.toLowerCase();
      el.hidden = terms.length > 0 && !keys[pkg + " " + (name === "(unplaced)" ? "" : name)];
    });
    if (terms.length > 0) {
      document.querySelectorAll("details.sec").forEach(function (d) {
        if (d.querySelector("[data-kind]:not([hidden])")) {
          d.open = true;
        }
      });
    }
    shown.textContent = terms.length > 0
      ? visible + " of " + items.length + " shown"
      : items.length + (items.length === 1 ? " item" : " items");
  }
  q.addEventListener("input", apply);
  apply();
})();
