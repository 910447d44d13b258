/* Explaining BERT — the reading-path switcher of the course site (vendored, no dependencies).
 *
 * Every notebook cell carries one tier tag: essentials (🟢), practitioner (🔵) or deep-dive (🟣). Code cells
 * reach the page as <div class="cell tag_<tier>">; markdown cells are preceded by a marker
 * <div class="course-tier" data-tier="<tier>"> that course_utils.site puts in (after the cell's heading, so
 * that the heading stays in its section). This script gives every block of the page the tier of the cell it
 * came from (data-course-tier) and sets <html data-course-path="...">; course-paths.css hides the tiers the
 * chosen path leaves out. A path keeps its own cells and those of the lighter paths, as the per-path
 * notebook copies do (course_utils.instructor.PATH_TIERS). The choice is kept in localStorage, so it holds
 * across pages, also when the site is opened from disk (file://).
 */
(function () {
  "use strict";
  var TIERS = ["essentials", "practitioner", "deep-dive"];
  var KEY = "explaining-bert-path";
  var DEFAULT = "deep-dive"; // everything shown until a reader chooses

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return TIERS.indexOf(value) >= 0 ? value : DEFAULT;
    } catch (e) {
      return DEFAULT; // storage switched off: the switcher still works on this page
    }
  }

  function store(value) {
    try {
      window.localStorage.setItem(KEY, value);
    } catch (e) {
      /* not kept across pages, nothing else lost */
    }
  }

  // Runs in <head>, before the page is drawn: no flash of the cells the path hides.
  document.documentElement.setAttribute("data-course-path", stored());

  function cellTier(el) {
    for (var i = 0; i < TIERS.length; i++) {
      if (el.classList.contains("tag_" + TIERS[i])) return TIERS[i];
    }
    return null;
  }

  function isHeading(el) {
    return el !== null && /^H[1-6]$/.test(el.tagName);
  }

  /* Give each block (a child of a <section> or of the article itself) the tier of its cell. */
  function label(article) {
    var current = null;
    var blocks = article.querySelectorAll("*");
    for (var i = 0; i < blocks.length; i++) {
      var el = blocks[i];
      var parent = el.parentElement;
      if (el.tagName === "SECTION" || !(parent === article || parent.tagName === "SECTION")) continue;
      if (el.classList.contains("course-tier")) {
        current = el.getAttribute("data-tier");
        if (isHeading(el.previousElementSibling)) el.previousElementSibling.setAttribute("data-course-tier", current);
        continue;
      }
      var tier = el.classList.contains("cell") ? cellTier(el) : null;
      tier = tier || current;
      if (tier) el.setAttribute("data-course-tier", tier);
    }
    // The page's table of contents: an entry goes with its section's heading.
    var links = document.querySelectorAll(".bd-sidebar-secondary a[href^='#']");
    for (var j = 0; j < links.length; j++) {
      var target = document.getElementById(decodeURIComponent(links[j].getAttribute("href").slice(1)));
      var heading = target && (isHeading(target) ? target : target.querySelector("h1, h2, h3, h4, h5, h6"));
      var li = links[j].closest("li");
      if (heading && li && heading.hasAttribute("data-course-tier")) {
        li.setAttribute("data-course-tier", heading.getAttribute("data-course-tier"));
      }
    }
  }

  function show(path) {
    document.documentElement.setAttribute("data-course-path", path);
    var buttons = document.querySelectorAll(".course-paths button[data-path]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", buttons[i].getAttribute("data-path") === path ? "true" : "false");
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var article = document.querySelector("article.bd-article") || document.querySelector("[role='main']");
    if (article) label(article);
    var buttons = document.querySelectorAll(".course-paths button[data-path]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (event) {
        var path = event.currentTarget.getAttribute("data-path");
        store(path);
        show(path);
      });
    }
    show(stored());
  });
})();
