// Projects: the New project form (create, or clone with live progress), the CLAUDE.md
// editor on a card, and the cost badge. New cards need no insertion here: the server
// pushes the new project list over /ws/events and the grid renders it.
"use strict";

(function () {
  const { api, wsUrl } = window.Clauster;
  const NAME = /^[A-Za-z0-9_-]{1,64}$/;
  const CLAUDE_MD_MAX = 65536;

  document.addEventListener("alpine:init", () => {
    const Alpine = window.Alpine;

    Alpine.data("newProject", () => ({
      name: "",
      kind: "create",
      gitInit: false,
      url: "",
      shallow: false,
      busy: false,
      error: "",
      warning: "",
      added: "",
      phase: "",
      percent: null,
      progressShown: false,

      get isCreate() { return this.kind === "create"; },
      get isClone() { return this.kind === "clone"; },
      get submitBlocked() { return this.busy || this.name.trim() === ""; },
      get submitLabel() {
        if (this.isClone) return this.busy ? "Cloning…" : "Clone";
        return this.busy ? "Creating…" : "Create";
      },
      get phaseLabel() { return this.phase || "Cloning…"; },
      get percentLabel() { return this.percent == null ? "" : `${this.percent}%`; },
      get barClass() { return this.percent == null ? "progress-bar-indeterminate" : ""; },
      get barStyle() { return { width: this.percent == null ? "100%" : `${this.percent}%` }; },

      async submit() {
        const name = this.name.trim();
        this.error = "";
        this.warning = "";
        if (!NAME.test(name)) {
          this.error = "A name is 1–64 letters, digits, '_' or '-'.";
          return;
        }
        if (this.isClone && !this.url.trim()) {
          this.error = "Enter the git URL to clone (https:// or ssh).";
          return;
        }
        this.busy = true;
        if (this.isCreate) {
          const r = await api("POST", "/api/projects", { name, git_init: this.gitInit });
          this.busy = false;
          if (!r.ok) {
            this.error = r.detail;
            this.$store.dash.toast("Project create failed", "error");
            return;
          }
          this.announce(r.data || { name });
          return;
        }
        const r = await api("POST", "/api/projects/clone", { name, url: this.url.trim(), shallow: this.shallow });
        if (!r.ok) {
          this.busy = false;
          this.error = r.detail;
          this.$store.dash.toast("Clone failed", "error");
          return;
        }
        this.follow(name, r.data.job_id);
      },

      /** Follows /ws/clone-progress/<job> until its done frame. */
      follow(name, job) {
        this.phase = "";
        this.percent = null;
        this.progressShown = true;
        const sock = new WebSocket(wsUrl(`/ws/clone-progress/${encodeURIComponent(job)}`));
        let finished = false;
        sock.onmessage = async (ev) => {
          let m;
          try { m = JSON.parse(ev.data); } catch (e) { return; }
          if (m.type === "progress") {
            this.phase = m.phase || "";
            this.percent = m.percent == null ? null : m.percent;
            return;
          }
          if (m.type !== "done") return;
          finished = true;
          this.busy = false;
          this.progressShown = false;
          if (m.status !== "done") {
            this.error = m.error || "The clone failed.";
            this.$store.dash.toast(`${name}: clone failed`, "error");
            return;
          }
          const list = await api("GET", "/api/projects");
          const p = list.ok && Array.isArray(list.data) ? list.data.find((x) => x.name === name) : null;
          this.announce(p || { name });
        };
        sock.onclose = () => {
          if (finished) return;
          this.busy = false;
          this.progressShown = false;
          this.error = "Lost the progress connection — the clone may still be running; its card appears when it is done.";
        };
      },

      /** After a create or clone: warn about shipped config, or close the form. */
      announce(p) {
        const name = p.name;
        const ships = [p.has_claude_md ? "CLAUDE.md" : "", p.has_claude_dir ? ".claude/" : ""].filter(Boolean);
        this.added = name;
        if (ships.length) {
          this.warning = `⚠ ${name} ships ${ships.join(" + ")} — its code runs when you Start a bridge here. Review it before starting.`;
          this.$store.dash.toast(`${name}: added — review before starting`, "warn");
          return;
        }
        this.$store.dash.toast(`${name}: ready`);
        this.name = "";
        this.url = "";
        this.newProjectOpen = false;
      },

      showIt() {
        const name = this.added;
        this.filter = "";
        this.$store.dash.focusName = name;
        this.$nextTick(() => {
          const card = document.getElementById(`card-${name}`);
          if (card) { card.scrollIntoView({ block: "center" }); card.focus(); }
        });
      },
    }));

    Alpine.data("claudeMd", () => ({
      content: "",
      sha: null,
      exists: false,
      bridgeRunning: false,
      busy: true,
      error: "",
      conflict: false,
      saved: false,

      init() { this.load(); },
      get path() { return `/api/projects/${encodeURIComponent(this.p.name)}/claude-md`; },
      get bytes() { return new TextEncoder().encode(this.content).length; },
      get over() { return this.bytes > CLAUDE_MD_MAX; },
      get countLabel() { return `${this.bytes} / ${CLAUDE_MD_MAX} bytes`; },
      get countClass() { return this.over ? "text-red" : "text-secondary"; },
      get isNew() { return !this.busy && !this.exists; },
      get saveBlocked() { return this.busy || this.over; },
      get saveLabel() { return this.busy && !this.error ? "Saving…" : "Save"; },
      get ariaLabel() { return `CLAUDE.md of ${this.p.name}`; },

      async load() {
        this.busy = true;
        this.error = "";
        this.conflict = false;
        const r = await api("GET", this.path);
        this.busy = false;
        if (!r.ok) { this.error = r.detail; return; }
        this.take(r.data);
      },
      take(doc) {
        this.content = doc.content || "";
        this.sha = doc.sha256 || null;
        this.exists = !!doc.exists;
        this.bridgeRunning = !!doc.bridge_running;
      },
      async save() {
        this.busy = true;
        this.error = "";
        this.saved = false;
        const body = { content: this.content };
        if (this.exists && this.sha) body.base_sha256 = this.sha;
        const r = await api("PUT", this.path, body);
        this.busy = false;
        if (!r.ok) {
          this.conflict = r.status === 409;
          this.error = this.conflict
            ? `${r.detail} Someone changed CLAUDE.md since you opened it: copy your text, then load their version.`
            : r.detail;
          this.$store.dash.toast("CLAUDE.md save failed", "error");
          return;
        }
        this.take(r.data);
        this.saved = true;
        this.$store.dash.toast("CLAUDE.md saved");
      },
    }));

    /** Fetched when its card first scrolls into view, and again after a Stop. */
    Alpine.data("usageBadge", () => {
      let observer = null;
      let onStop = null;
      return {
        usage: null,
        init() {
          if (!this.$store.dash.cfg.show_cost) return;
          const card = this.$el.closest("article");
          observer = new IntersectionObserver((entries) => {
            if (entries.some((e) => e.isIntersecting)) {
              observer.disconnect();
              observer = null;
              this.load();
            }
          });
          observer.observe(card);
          onStop = (ev) => { if (ev.detail && ev.detail.project === this.p.name) this.load(); };
          window.addEventListener("clauster-stopped", onStop);
        },
        destroy() {
          if (observer) observer.disconnect();
          if (onStop) window.removeEventListener("clauster-stopped", onStop);
        },
        async load() {
          const r = await api("GET", `/api/projects/${encodeURIComponent(this.p.name)}/usage`);
          if (r.ok) this.usage = r.data;
        },
        get shown() { return !!this.usage && this.usage.transcripts > 0 && this.usage.cost_usd != null; },
        get label() { return this.shown ? `≈$${this.usage.cost_usd.toFixed(2)}` : ""; },
        get tooltip() {
          const u = this.usage;
          if (!this.shown) return "";
          const n = u.transcripts;
          let t = `${u.total_tokens.toLocaleString()} tokens across ${n} session${n === 1 ? "" : "s"} · approximate cost (prices as of ${u.prices_as_of})`;
          if (u.unpriced_models && u.unpriced_models.length) t += ` (excludes unpriced: ${u.unpriced_models.join(", ")})`;
          return t;
        },
      };
    });
  });
})();
