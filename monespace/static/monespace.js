/* Mon Espace: the side menu's button on phones and the ⋮ action menus
   (disclosure buttons: Enter or Space opens, Tab reaches the links,
   Escape closes and gives the focus back, a click elsewhere closes). */
(function () {
  "use strict";

  function sideMenu() {
    var toggle = document.querySelector(".menu-toggle");
    var menu = document.getElementById("menu-principal");
    if (!toggle || !menu) { return; }
    function set(open) {
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      document.body.classList.toggle("menu-open", open);
    }
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      set(open);
      if (open) {
        var first = menu.querySelector("a");
        if (first) { first.focus(); }
      }
    });
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
        set(false);
        toggle.focus();
      }
    });
  }

  function place(menu) {
    /* Keep the open menu inside the window: right-aligned under its button,
       moved left or right when it would cross an edge. */
    menu.style.right = "";
    menu.style.left = "";
    var box = menu.getBoundingClientRect();
    var width = document.documentElement.clientWidth;
    var margin = 8;
    if (box.left < margin) {
      menu.style.right = "auto";
      menu.style.left = (margin - menu.offsetParent.getBoundingClientRect().left) + "px";
    } else if (box.right > width - margin) {
      menu.style.right = (box.right - (width - margin)) + "px";
    }
  }

  function actionMenus() {
    var toggles = Array.prototype.slice.call(document.querySelectorAll(".actions-toggle"));
    if (!toggles.length) { return; }
    function menuOf(toggle) { return document.getElementById(toggle.getAttribute("aria-controls")); }
    function close(toggle, giveFocus) {
      var menu = menuOf(toggle);
      toggle.setAttribute("aria-expanded", "false");
      if (menu) { menu.classList.remove("is-open"); }
      if (giveFocus) { toggle.focus(); }
    }
    function closeAll(except) {
      toggles.forEach(function (t) { if (t !== except && t.getAttribute("aria-expanded") === "true") { close(t, false); } });
    }
    toggles.forEach(function (toggle) {
      var menu = menuOf(toggle);
      if (!menu) { return; }
      toggle.addEventListener("click", function (event) {
        event.stopPropagation();
        var open = toggle.getAttribute("aria-expanded") !== "true";
        closeAll(toggle);
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
        menu.classList.toggle("is-open", open);
        if (open) {
          place(menu);
          if (event.detail === 0) {  /* opened with the keyboard: the focus goes into the menu */
            var first = menu.querySelector("a");
            if (first) { first.focus(); }
          }
        }
      });
      toggle.parentNode.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
          event.preventDefault();
          close(toggle, true);
        }
        if ((event.key === "ArrowDown" || event.key === "ArrowUp") && menu.classList.contains("is-open")) {
          var links = Array.prototype.slice.call(menu.querySelectorAll("a"));
          var at = links.indexOf(document.activeElement);
          var next = event.key === "ArrowDown" ? (at + 1) % links.length : (at - 1 + links.length) % links.length;
          links[next].focus();
          event.preventDefault();
        }
      });
      toggle.parentNode.addEventListener("focusout", function (event) {
        if (event.relatedTarget && !toggle.parentNode.contains(event.relatedTarget)) { close(toggle, false); }
      });
    });
    document.addEventListener("click", function (event) {
      if (!event.target.closest(".action-cell")) { closeAll(null); }
    });
    /* A new width moves the menus: close them. Not on a height-only change
       (a phone's address bar hiding as the page scrolls, a full-page capture). */
    var width = window.innerWidth;
    window.addEventListener("resize", function () {
      if (window.innerWidth !== width) { width = window.innerWidth; closeAll(null); }
    });
  }

  function start() {
    sideMenu();
    actionMenus();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
