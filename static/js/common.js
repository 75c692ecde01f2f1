// Shared by every page: the theme toggle, and the small helpers the dashboard's
// components call (no framework needed for these).
"use strict";

(function () {
  const root = () => document.body.dataset.root || "";

  /** The theme lives on <html data-bs-theme>; an inline head script set it before paint. */
  function setTheme(theme) {
    // Switch in one step: without this every button fades its colours for 0.3 s.
    const html = document.documentElement;
    html.classList.add("theme-switching");
    html.setAttribute("data-bs-theme", theme);
    void getComputedStyle(html).color; // apply the new colours before transitions return
    requestAnimationFrame(() => html.classList.remove("theme-switching"));
    try { localStorage.setItem("clauster-theme", theme); } catch (e) { /* private mode: per page only */ }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.getElementById("theme-toggle");
    if (toggle) {
      toggle.addEventListener("click", () => {
        const now = document.documentElement.getAttribute("data-bs-theme");
        setTheme(now === "light" ? "dark" : "light");
      });
    }
  });

  /**
   * A JSON request to the server. Resolves to {ok, status, data, detail}; never throws.
   * `detail` is the server's explanation on failure (every 4xx carries one), or a
   * sentence about the network. A 401 means the session ended: go and sign in.
   */
  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { accept: "application/json" } };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(root() + path, init);
    } catch (e) {
      return { ok: false, status: 0, data: null, detail: "The server did not answer; check the connection and try again." };
    }
    let data = null;
    try { data = await res.json(); } catch (e) { /* empty or not JSON */ }
    if (res.status === 401) {
      window.location.assign(root() + "/login");
    }
    let detail = "";
    if (!res.ok) {
      detail = data && data.detail ? String(data.detail) : `The server answered ${res.status} ${res.statusText}.`;
    }
    return { ok: res.ok, status: res.status, data, detail };
  }

  /** Copies text: the async clipboard where the page is a secure context, else a hidden textarea. */
  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); return true; } catch (e) { /* fall back */ }
    }
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "visually-hidden";
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  }

  /** The WebSocket URL of a path on this server (wss when the page is https). */
  function wsUrl(path) {
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${window.location.host}${root()}${path}`;
  }

  window.Clauster = { api, copyText, wsUrl, root };
})();
