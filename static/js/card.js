// A project card: status from the store, one primary action, the confirmations that
// guard it, links/QR/logs while a bridge runs. Local UI state lives here; the bridge's
// state always comes from the server's events (optimistic only while a request runs).
"use strict";

(function () {
  const { api, copyText, wsUrl } = window.Clauster;

  const LABEL = {
    starting: "Starting", running: "Running", stopping: "Stopping", stopped: "Stopped",
    interrupted: "Interrupted", crashed: "Crashed", error: "Failed to start", failed: "Gave up",
  };
  const BADGE = {
    starting: "bg-azure-lt", running: "bg-green-lt", stopping: "bg-orange-lt", stopped: "bg-secondary-lt",
    interrupted: "bg-yellow-lt", crashed: "bg-yellow-lt", error: "bg-red-lt", failed: "bg-red-lt",
  };
  const DOT = {
    starting: "bg-azure status-dot-animated", running: "bg-green", stopping: "bg-orange status-dot-animated",
    stopped: "bg-secondary", interrupted: "bg-yellow", crashed: "bg-yellow", error: "bg-red", failed: "bg-red",
  };
  const LOG_LINES = 1000;

  function mib(bytes) { return `${(bytes / 1048576).toFixed(1)} MiB`; }
  function clock(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
  }

  document.addEventListener("alpine:init", () => {
    const Alpine = window.Alpine;

    Alpine.data("card", () => ({
      optimistic: "",
      confirm: "",
      error: "",
      busy: false,
      trustTicked: false,
      bypassTyped: "",
      bypassOk: false,
      optionsOpen: false,
      menuOpen: false,
      qrOpen: false,
      qrStamp: 0,
      logsOpen: false,
      editorOpen: false,
      spawnMode: "same-dir",
      permissionMode: "default",
      resumeMode: "standard",

      init() {
        const cfg = this.$store.dash.cfg;
        this.spawnMode = cfg.spawn_mode || "same-dir";
        const perm = cfg.permission_mode || "default";
        this.permissionMode = perm === "bypassPermissions" && !this.p.allow_bypass_permissions ? "default" : perm;
        if (this.$store.dash.focusName === this.p.name) {
          this.$store.dash.focusName = "";
          this.$nextTick(() => { this.$el.scrollIntoView({ block: "center" }); this.$el.focus(); });
        }
      },

      // ---- what the card shows ------------------------------------------------------
      get inst() { return this.$store.dash.instances[this.p.name] || null; },
      get serverStatus() {
        const i = this.inst;
        if (!i) return "stopped";
        if (i.status === "stopped" && !i.intentional_stop) return "interrupted";
        return i.status;
      },
      get status() { return this.optimistic || this.serverStatus; },
      get statusLabel() { return LABEL[this.status] || this.status; },
      get badgeClass() { return BADGE[this.status] || ""; },
      get dotClass() { return DOT[this.status] || ""; },
      get cardId() { return `card-${this.p.name}`; },
      get ariaLabel() { return `${this.p.name}: ${this.statusLabel}`; },
      get trusted() { return this.p.trust_state === "trusted" || !!this.$store.dash.trustedNow[this.p.name]; },
      get live() {
        const s = this.inst && this.inst.status;
        return (s === "running" || s === "starting") && this.optimistic !== "stopping";
      },
      get idle() { return !["starting", "running", "stopping"].includes(this.status); },
      get resumable() {
        const i = this.inst;
        return !!i && ["stopped", "interrupted", "crashed", "failed"].includes(this.serverStatus) && !!i.environment_id;
      },
      get canStart() { return this.idle && !this.resumable; },
      get canResume() { return this.idle && this.resumable; },
      get stopping() { return this.status === "stopping"; },
      /** The one primary button: what it says and does in this state. */
      get primary() {
        const s = this.status;
        // `disabled`: not actionable now; `blocked`: also out of the tab order (a confirm
        // panel is open). A busy button stays focusable so the focus survives the change.
        const button = (action, label, cls, extra) => {
          const b = { action, label, cls, busy: false, disabled: false, title: "", icon: "", ...extra };
          return { ...b, blocked: b.disabled && !b.busy };
        };
        if (s === "starting") return button("starting", "starting…", "btn-secondary", { busy: true, disabled: true });
        if (s === "stopping") return button("stop", "Stopping…", "btn-danger", { busy: true, disabled: true });
        if (s === "running") {
          const title = "Stop the bridge (SIGINT, then SIGKILL after the grace period)";
          return button("stop", "Stop bridge", "btn-danger", { title, icon: "player-stop" });
        }
        const disabled = this.confirm !== "";
        if (this.resumable) return button("resume", "Resume", "btn-success", { disabled, title: this.resumeTitle, icon: "refresh" });
        return button("start", "Start bridge", "btn-success", { disabled, icon: "player-play" });
      },
      get primaryIcon() { return this.icon(this.primary.icon); },
      runPrimary() {
        if (this.primary.disabled) return;
        const a = this.primary.action;
        if (a === "start") this.start();
        else if (a === "resume") this.resume();
        else if (a === "stop") this.stop();
      },
      get optionsOffered() { return this.canStart; },
      get optionsLabel() { return this.optionsOpen ? "Hide options ⌃" : "Options ⌄"; },
      get noWorktree() { return !this.p.is_git_repo; },
      get resumeTitle() {
        const mode = (this.inst && this.inst.permission_mode) || "default";
        return `Resume the bridge — reconnects its prior session and keeps ${mode} mode.`;
      },
      get note() {
        const resume = this.resumable ? "Resume to continue." : "Start it again.";
        if (this.status === "interrupted") return `Ended without a Stop (host restart or external exit) — ${resume}`;
        if (this.status === "crashed") return `The bridge exited unexpectedly — ${resume}`;
        return "";
      },
      get restartLine() {
        const r = this.inst && this.inst.restart;
        if (!r) return "";
        if (this.status === "failed" && r.gave_up) return `Restart policy gave up: ${r.gave_up}`;
        if (!r.policy || r.policy === "never") return "";
        let s = `Restart: ${r.policy}`;
        if (r.restarts) s += ` · ${r.restarts} restart${r.restarts === 1 ? "" : "s"}`;
        if (r.next_attempt_at) s += ` · next attempt at ${clock(r.next_attempt_at)}`;
        return s;
      },
      get resourceLine() {
        const i = this.inst;
        if (!i || i.status !== "running" || i.cpu_percent == null) return "";
        const rss = i.rss_bytes != null ? ` · ${mib(i.rss_bytes)}` : "";
        return `CPU ${i.cpu_percent.toFixed(1)}%${rss}`;
      },
      /** The stderr box of a failed start; its first paragraph (the advice) is already the inline error. */
      get errorDetail() {
        if (this.status !== "error" || !this.inst) return "";
        const d = this.inst.error_detail || "";
        const cut = d.indexOf("\n\n");
        return cut >= 0 && this.error && d.startsWith(this.error) ? d.slice(cut + 2) : d;
      },
      get externalLine() {
        const list = this.$store.dash.sessions[this.p.name] || [];
        if (!list.length) return "";
        return list.length === 1 ? "External session active" : `${list.length} external sessions active`;
      },
      get trustBlocked() { return !this.trustTicked || this.busy; },
      get menuLabel() { return `More actions for ${this.p.name}`; },
      get menuClass() { return this.menuOpen ? "show" : ""; },
      get editorMenuLabel() { return this.editorOpen ? "Close CLAUDE.md" : "Edit CLAUDE.md"; },
      get qrLabel() { return this.qrOpen ? "Hide QR" : "QR"; },
      get qrSrc() { return `${window.Clauster.root()}/api/instances/${encodeURIComponent(this.p.name)}/qr?t=${this.qrStamp}`; },
      get qrAlt() { return `QR code of the session link of ${this.p.name}`; },
      get hasLog() { return !!(this.inst && this.inst.bridge_debug_log_path); },
      get logsShown() { return this.logsOpen; },
      /** Logs can be read while a bridge runs and after it ended (to see why). */
      get logsButton() { return this.logsOpen || this.hasLog; },
      get logsLabel() { return this.logsOpen ? "Hide logs" : "Show logs"; },

      // ---- actions ----------------------------------------------------------------------
      toggleMenu() {
        this.menuOpen = !this.menuOpen;
        // Keyboard users land on the first item; Escape or a click outside closes.
        const root = this.$root;
        if (this.menuOpen) this.$nextTick(() => { const i = root.querySelector(".dropdown-menu.show .dropdown-item"); if (i) i.focus(); });
      },
      closeMenu() { this.menuOpen = false; },
      toggleOptions() { this.optionsOpen = !this.optionsOpen; },
      toggleQr() { this.qrOpen = !this.qrOpen; this.qrStamp = Date.now(); },
      toggleLogs() { this.logsOpen = !this.logsOpen; },
      toggleEditor() { this.editorOpen = !this.editorOpen; this.menuOpen = false; },
      /** Opens a confirm panel and puts the keyboard focus on its first control. */
      ask(which, first) {
        const root = this.$root; // now: the element this was called from may be gone by then
        this.confirm = which;
        this.$nextTick(() => { const el = root.querySelector(first); if (el) el.focus(); });
      },
      /** Closes the confirm panel; the focus returns to the card's primary button. */
      closeConfirm() {
        const root = this.$root;
        this.confirm = "";
        this.$nextTick(() => { const el = root.querySelector("[data-role=primary]"); if (el) el.focus(); });
      },
      cancelConfirm() { this.error = ""; this.closeConfirm(); },
      askNewSession() { this.menuOpen = false; this.ask("new-session", "[data-action=new-session]"); },
      toast(text, kind) { this.$store.dash.toast(text, kind); },

      start() {
        this.error = "";
        if (!this.trusted) {
          this.trustTicked = false;
          this.ask("trust", "[data-role=trust-check]");
          return;
        }
        if (this.permissionMode === "bypassPermissions" && !this.bypassOk) {
          this.bypassTyped = "";
          this.ask("bypass", "[data-role=bypass-name]");
          return;
        }
        this.bypassOk = false;
        this.spawn();
      },

      async trustAndStart() {
        this.busy = true;
        const r = await api("POST", `/api/projects/${encodeURIComponent(this.p.name)}/trust`);
        this.busy = false;
        this.closeConfirm();
        if (!r.ok) {
          this.error = r.detail;
          this.toast(`${this.p.name}: trust failed`, "error");
          return;
        }
        this.$store.dash.trustedNow[this.p.name] = true;
        this.toast(`${this.p.name}: trusted`);
        this.start();
      },

      confirmBypass() {
        if (this.bypassTyped.trim() !== this.p.name) {
          this.error = "Type the project name exactly to confirm bypass.";
          return;
        }
        this.error = "";
        this.closeConfirm();
        this.bypassOk = true;
        this.start();
      },

      async spawn() {
        const name = this.p.name;
        this.optimistic = "starting";
        const r = await api("POST", "/api/instances", {
          project: name,
          spawn_mode: this.spawnMode,
          permission_mode: this.permissionMode,
          resume_mode: (this.inst && this.inst.resume_mode) || this.resumeMode,
        });
        this.optimistic = "";
        this.afterStart(r, "start failed");
      },

      async resume() {
        this.error = "";
        this.optimistic = "starting";
        const r = await api("POST", `/api/instances/${encodeURIComponent(this.p.name)}/resume`);
        this.optimistic = "";
        this.afterStart(r, "resume failed");
      },

      async newSession() {
        this.busy = true;
        this.closeConfirm();
        this.error = "";
        this.optimistic = "starting";
        const r = await api("POST", `/api/instances/${encodeURIComponent(this.p.name)}/new-session`);
        this.optimistic = "";
        this.busy = false;
        this.afterStart(r, "new session failed");
      },

      afterStart(r, failed) {
        const name = this.p.name;
        if (r.data && r.data.instance) this.$store.dash.putInstance(r.data.instance);
        if (!r.ok) {
          const d = r.data && r.data.instance && r.data.instance.error_detail;
          this.error = d ? d.split("\n\n")[0] : r.detail;
          this.toast(`${name}: ${failed}`, "error");
          return;
        }
        this.$store.dash.putInstance(r.data);
        if (r.data && r.data.status === "running") this.toast(`${name}: running`);
      },

      async stop() {
        const name = this.p.name;
        this.error = "";
        this.logsOpen = false;
        this.qrOpen = false;
        this.optimistic = "stopping";
        const r = await api("DELETE", `/api/instances/${encodeURIComponent(name)}`);
        this.optimistic = "";
        if (!r.ok) {
          this.error = r.detail;
          this.toast(`${name}: stop failed`, "error");
          return;
        }
        this.$store.dash.putInstance(r.data);
        this.toast(`${name}: stopped`);
        this.$dispatch("clauster-stopped", { project: name });
      },

      async copyLink(url) {
        const ok = await copyText(url);
        this.toast(ok ? "Link copied" : "Couldn't copy — copy it manually", ok ? "ok" : "error");
      },
      copySession() { this.copyLink(this.inst.session_url); },
      copyEnv() { this.copyLink(this.inst.url); },
    }));

    // ---- the log pane: /ws/bridge-log/<name>, appended to a <pre> outside Alpine's
    // reactivity (a fast bridge writes thousands of lines a second).
    Alpine.data("logPane", () => {
      // Lines and the socket live in this closure, outside Alpine's reactive proxies.
      let lines = [];
      let pending = [];
      let sock = null;
      let frame = 0;
      let follow = true;
      return {
        paused: false,
        buffered: 0,
        state: "connecting…",

        init() { this.open(); },
        destroy() {
          if (sock) { const s = sock; sock = null; s.close(1000); }
          cancelAnimationFrame(frame);
        },
        open() {
          const s = new WebSocket(wsUrl(`/ws/bridge-log/${encodeURIComponent(this.p.name)}`));
          sock = s;
          s.onopen = () => { this.state = "live"; };
          s.onmessage = (ev) => this.receive(String(ev.data).split("\n"));
          s.onclose = (ev) => {
            if (sock !== s) return;
            sock = null;
            this.state = ev.code === 1008 ? `closed: ${ev.reason || "no log for this bridge"}` : "stream ended";
          };
        },
        receive(more) {
          if (this.paused) {
            pending.push(...more);
            if (pending.length > LOG_LINES) pending.splice(0, pending.length - LOG_LINES);
            this.buffered = pending.length;
            return;
          }
          lines.push(...more);
          if (lines.length > LOG_LINES) lines.splice(0, lines.length - LOG_LINES);
          if (!frame) frame = requestAnimationFrame(() => this.paint());
        },
        paint() {
          frame = 0;
          const pre = this.$refs.log;
          if (!pre) return;
          pre.textContent = lines.join("\n");
          if (follow) pre.scrollTop = pre.scrollHeight;
        },
        onScroll() {
          const pre = this.$refs.log;
          follow = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
        },
        togglePause() {
          this.paused = !this.paused;
          if (!this.paused) {
            const held = pending;
            pending = [];
            this.buffered = 0;
            this.receive(held);
          }
        },
        jumpToLatest() { follow = true; this.paint(); },
        clear() { lines = []; pending = []; this.buffered = 0; this.paint(); },
        get pauseLabel() { return this.paused ? "Resume" : "Pause"; },
        get pauseIcon() { return this.paused ? "player-play" : "player-pause"; },
        get stateLine() { return this.paused ? `paused (${this.buffered} buffered)` : this.state; },
        get logAria() { return `Log of ${this.p.name}`; },
      };
    });
  });
})();
