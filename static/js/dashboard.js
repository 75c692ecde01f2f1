// The dashboard's state: one store fed by the /ws/events stream (a snapshot on connect,
// then every change), the page-level component, the readiness panel and toasts.
// Nothing here polls: the socket pushes, and a lost socket reconnects with backoff and
// resyncs from a fresh snapshot.
"use strict";

(function () {
  const { api, wsUrl } = window.Clauster;
  const TOAST_MS = 4500;
  /** Cards rendered at first; "Show more" adds the rest in pages, so 1000 projects stay quick. */
  const PAGE = 60;

  function pageConfig() {
    const el = document.getElementById("page-config");
    try { return JSON.parse(el.textContent); } catch (e) { return {}; }
  }

  /** The server's order: case-insensitive, then exact (`src/discovery.rs`). */
  function byName(a, b) {
    const x = a.name.toLowerCase();
    const y = b.name.toLowerCase();
    if (x !== y) return x < y ? -1 : 1;
    if (a.name === b.name) return 0;
    return a.name < b.name ? -1 : 1;
  }

  /** A `projects_delta` applied to the list: changed and new projects, removed names. */
  function applyDelta(list, m) {
    const gone = new Set(m.remove || []);
    const changed = new Map((m.upsert || []).map((p) => [p.name, p]));
    const out = list.filter((p) => !gone.has(p.name) && !changed.has(p.name));
    out.push(...changed.values());
    return out.sort(byName);
  }

  /** Keeps project objects whose content did not change, so only changed cards re-render. */
  function mergeProjects(old, fresh) {
    const byName = new Map(old.map((p) => [p.name, p]));
    return fresh.map((p) => {
      const prev = byName.get(p.name);
      if (prev && JSON.stringify(prev) === JSON.stringify(p)) return prev;
      return p;
    });
  }

  document.addEventListener("alpine:init", () => {
    const Alpine = window.Alpine;
    const cfg = pageConfig();

    const store = {
      cfg,
      conn: "connecting",
      ready: false,
      projects: [],
      projectsError: "",
      instances: {},
      sessions: {},
      claude: {},
      children: {},
      seq: 0,
      toasts: [],
      /** Trust granted from this page, shown before the server's project event confirms
          it; every project update from the server replaces it (the server is the truth). */
      trustedNow: {},
      /** Set by a card's "New project" follow-up: scroll to and focus that card. */
      focusName: "",

      toast(text, kind) {
        const id = `${Date.now()}-${Math.random()}`;
        const cls = { ok: "toast-ok", error: "toast-error", warn: "toast-warn" }[kind || "ok"] || "";
        this.toasts.push({ id, text, cls });
        setTimeout(() => this.dismiss(id), TOAST_MS);
      },
      dismiss(id) {
        const i = this.toasts.findIndex((t) => t.id === id);
        if (i >= 0) this.toasts.splice(i, 1);
      },

      applySnapshot(m) {
        this.seq = m.seq || 0;
        this.projects = mergeProjects(this.projects, m.projects || []);
        this.projectsError = m.projects_error || "";
        this.trustedNow = {};
        const inst = {};
        for (const i of m.instances || []) inst[i.project] = i;
        this.instances = inst;
        this.sessions = m.sessions || {};
        this.claude = m.claude || {};
        this.children = m.children || {};
        this.ready = m.projects_ready !== false;
      },
      apply(m) {
        switch (m.type) {
          case "snapshot": this.applySnapshot(m); break;
          case "projects": this.setProjects(mergeProjects(this.projects, m.projects || [])); break;
          case "projects_delta": this.setProjects(applyDelta(this.projects, m)); break;
          case "instance": this.instances[m.instance.project] = m.instance; break;
          case "sessions_changed": this.refreshSessions(); break;
          case "claude_probed": this.claude = m; break;
          case "child_changed": this.children[m.id] = m; break;
          default: break;
        }
      },
      setProjects(list) {
        this.projects = list;
        this.projectsError = "";
        this.ready = true;
        this.trustedNow = {};
      },
      async refreshSessions() {
        const r = await api("GET", "/api/sessions");
        if (r.ok && r.data) this.sessions = r.data;
      },
      /** Optimistically set (and re-read) an instance, e.g. from a POST's reply. */
      putInstance(i) {
        if (i && i.project) this.instances[i.project] = i;
      },
      project(name) {
        return this.projects.find((p) => p.name === name);
      },
    };
    Alpine.store("dash", store);
    // Mutate through the reactive proxy, never the plain object, or nothing re-renders.
    const dash = Alpine.store("dash");

    // ---- the event stream ------------------------------------------------------------
    let ws = null;
    let attempt = 0;
    let timer = null;
    let lostTimer = null;

    function setConn(state) {
      dash.conn = state;
      document.body.dataset.conn = state;
    }

    function connect() {
      clearTimeout(timer);
      timer = null;
      if (ws) { try { ws.close(); } catch (e) { /* already closed */ } }
      const sock = new WebSocket(wsUrl("/ws/events"));
      ws = sock;
      sock.onmessage = (ev) => {
        let m;
        try { m = JSON.parse(ev.data); } catch (e) { return; }
        if (m.type === "snapshot") {
          attempt = 0;
          clearTimeout(lostTimer);
          setConn("live");
        }
        dash.apply(m);
      };
      sock.onclose = () => {
        if (ws !== sock) return;
        ws = null;
        // A blip shorter than a second (a proxy reload) does not flash the banner.
        if (dash.conn === "live") {
          clearTimeout(lostTimer);
          lostTimer = setTimeout(() => { if (!ws || ws.readyState !== 1) setConn("lost"); }, 1000);
        } else {
          setConn("lost");
        }
        schedule();
      };
    }

    /** Backoff 0.5 s, 1 s, 2 s, 4 s, then every 5 s; a signed-out page goes to the login. */
    function schedule() {
      if (timer) return;
      const delay = Math.min(500 * 2 ** attempt, 5000);
      attempt += 1;
      timer = setTimeout(async () => {
        timer = null;
        if (attempt > 2) {
          // A handshake refused for lack of a session looks like a network error to
          // the browser; ask over HTTP (an authenticated route), where a 401 sends us to
          // the login page.
          const r = await api("GET", "/api/instances");
          if (r.status === 401) return;
        }
        connect();
      }, delay);
    }

    dash.reconnectNow = () => { attempt = 0; connect(); };
    // Back from sleep or offline: don't wait for the backoff.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !ws) dash.reconnectNow();
    });
    window.addEventListener("online", () => { if (!ws) dash.reconnectNow(); });
    // Leaving closes the socket (so the page can enter the back/forward cache); coming
    // back from that cache opens a fresh one and resyncs.
    window.addEventListener("pagehide", () => { if (ws) { const s = ws; ws = null; s.close(); } });
    window.addEventListener("pageshow", (ev) => { if (ev.persisted && !ws) dash.reconnectNow(); });

    // ---- the page ------------------------------------------------------------------
    Alpine.data("dashboard", () => ({
      filter: "",
      limit: PAGE,
      newProjectOpen: false,

      init() {
        connect();
        // The tab title counts running bridges, so a pinned tab shows them at a glance.
        Alpine.effect(() => {
          const n = Object.values(dash.instances).filter((i) => i.status === "running").length;
          document.title = n ? `(${n}) clauster` : "clauster";
        });
        // "/" jumps to the filter, as on most dashboards (not while typing elsewhere).
        document.addEventListener("keydown", (ev) => {
          const t = ev.target;
          if (ev.key !== "/" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
          if (t.closest && t.closest("input, textarea, select, [contenteditable]")) return;
          const f = document.getElementById("filter");
          if (f && f.offsetParent !== null) { ev.preventDefault(); f.focus(); }
        });
      },
      icon(name) { return `${document.body.dataset.icons}#i-${name}`; },
      get connLost() { return this.$store.dash.conn === "lost"; },
      get connLabel() {
        return { live: "live", lost: "offline", connecting: "connecting…" }[this.$store.dash.conn];
      },
      get connClass() { return `conn-${this.$store.dash.conn}`; },
      reconnectNow() { this.$store.dash.reconnectNow(); },
      get projectsError() { return this.$store.dash.projectsError; },
      get manyProjects() { return this.$store.dash.projects.length > 6; },
      get matching() {
        const all = this.$store.dash.projects;
        const f = this.filter.trim().toLowerCase();
        return f ? all.filter((p) => p.name.toLowerCase().includes(f)) : all;
      },
      get visibleProjects() { return this.matching.slice(0, this.limit); },
      get hiddenCount() { return Math.max(0, this.matching.length - this.limit); },
      get showMoreLabel() { return `Show ${Math.min(PAGE * 4, this.hiddenCount)} more of ${this.hiddenCount}`; },
      showMore() { this.limit += PAGE * 4; },
      get emptyState() {
        const s = this.$store.dash;
        return s.ready && !s.projectsError && s.projects.length === 0;
      },
      get loading() { return !this.$store.dash.ready && !this.$store.dash.projectsError; },
      get noMatch() { return this.$store.dash.projects.length > 0 && this.matching.length === 0; },
      get countLabel() {
        const s = this.$store.dash;
        if (!s.ready) return "";
        const n = s.projects.length;
        const running = Object.values(s.instances).filter((i) => i.status === "running").length;
        return `${n} project${n === 1 ? "" : "s"} · ${running} running`;
      },
      toggleNewProject() { this.newProjectOpen = !this.newProjectOpen; },
      get newProjectLabel() { return this.newProjectOpen ? "Cancel" : "New project"; },
      get newProjectIcon() { return this.newProjectOpen ? "x" : "plus"; },
      dismissToast(id) { this.$store.dash.dismiss(id); },
    }));

    // ---- readiness (clauster doctor) ----------------------------------------------------
    const GLYPH = { ok: "✓", warn: "⚠", fail: "✗" };
    const GLYPH_CLASS = { ok: "text-green", warn: "text-yellow", fail: "text-red" };
    Alpine.data("readiness", () => ({
      checks: [],
      showAll: false,
      loading: false,
      init() { this.load(); },
      async load() {
        this.loading = true;
        const r = await api("GET", "/api/doctor");
        this.loading = false;
        if (!r.ok || !r.data) return;
        this.checks = (r.data.checks || []).map((c) => ({
          name: c.name,
          status: c.status,
          detail: c.detail,
          glyph: GLYPH[c.status] || "?",
          cls: GLYPH_CLASS[c.status] || "",
          title: c.name.replace(/-/g, " ").replace(/^./, (x) => x.toUpperCase()),
        }));
      },
      get issues() { return this.checks.filter((c) => c.status !== "ok"); },
      get visible() { return this.issues.length > 0; },
      get shown() { return this.showAll ? this.checks : this.issues; },
      toggleAll() { this.showAll = !this.showAll; },
      get toggleLabel() { return this.showAll ? "Show only issues" : "Show all checks"; },
    }));
  });
})();
