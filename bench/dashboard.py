#!/usr/bin/env python3
"""Benchmark for the clauster dashboard page vs number of projects (Python 3.11, stdlib only).

For each N in --projects (10, 200, 1000) it builds foundation.py's fixture (temporary
HOME, N folders proj-0000..., every 10th a git repo with a CLAUDE.md, one trust entry
per project in ~/.claude.json, the repo's fake `claude` first on PATH), starts
`clauster run`, waits until /api/projects lists all N, then measures:

  1. GET /: body size plain and with Accept-Encoding: gzip; single-request time (median
     of --single sequential requests, request sent -> last byte, connection already
     open); p50/p99/req/s with 8 keep-alive connections for --seconds (wrk -t1 -c8
     --latency if installed, else foundation.py's Python thread pool);
  2. /ws/events: the first frame (the snapshot) with a stdlib WebSocket client (HTTP/1.1
     upgrade, Origin of the server, permessage-deflate offered as a browser does):
     bytes on the wire and decoded, TCP connect -> last byte of the frame (median of --ws);
  3. first-visit bytes: page (gzip) + every /static/ asset the page makes the browser
     load (gzip) + the snapshot frame;
  4. browser: headless Chromium through chromedriver's W3C WebDriver HTTP API
     (http.client + json). A probe installed before any page script (chromedriver's
     goog/cdp/execute -> Page.addScriptToEvaluateOnNewDocument) records, with
     performance.now() (0 = navigation start), when the events socket is created, when
     its first message arrives, and every change of the number of
     `#project-grid article.project-card` (MutationObserver), plus the next animation
     frame once all min(N, 60) cards are in. --loads cold loads (browser cache cleared
     before each) and as many warm ones (immutable assets cached); medians reported;
  5. server VmRSS/VmHWM after startup, after the HTTP load, after the WebSocket runs and
     1 s after the browser loads.

Prints a Markdown table and writes the raw numbers as JSON (`--out`). Loopback only;
every wait is bounded; the server and chromedriver are stopped by PID, leftover
processes whose command line mentions the temp dir (Chromium) are killed by PID, and the
temp dir is removed, even on error.

    cargo build --release && python3 bench/dashboard.py [--projects 10,200,1000]
"""

import argparse, base64, hashlib, html, http.client, json, os, re, shutil, signal, socket
import statistics, subprocess, sys, tempfile, time, zlib
from pathlib import Path

sys.dont_write_bytecode = True  # no bench/__pycache__ from importing foundation
sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import HOST, REPO, build_fixture, free_port, get, lists_all  # noqa: E402
from foundation import load_python, load_wrk, mem, poll, stop  # noqa: E402
from bridges import pids_mentioning  # noqa: E402
import foundation  # noqa: E402

CONNS = foundation.CONNS
CARD_SEL = "#project-grid article.project-card"
PAGE_CARDS = 60  # static/js/dashboard.js PAGE: cards rendered before "Show more"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROME_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--window-size=1280,900"]
# clauster 0.6.0, /work/shared/bench/BASELINE.md, "Dashboard page and JSON listing vs number
# of project directories" (2 vCPU, wrk -t1 -c8): the page carried every card.
BASE_060 = {10: {"page": "227 KiB", "p50": "40 ms"}, 200: {"page": "3.5 MiB", "p50": "705 ms"},
            1000: {"page": "17.0 MiB", "p50": "3.98 s"}}
TARGET = {"page": "≤ 1.5 MiB at 1000", "time": "≤ 15 ms at 1000"}

# Installed in every new document before its own scripts run. Records, relative to
# navigation start: events socket created / first message, each change of the card
# count, and the animation frame after all `want` cards are in.
PROBE = r"""
(() => {
  if (location.protocol !== "http:") return;
  const b = window.__bench = { marks: [], ws_created: null, ws_first_message: null, frame: null };
  const sel = %s, want = %d;
  const W = window.WebSocket;
  window.WebSocket = class extends W {
    constructor(...a) {
      super(...a);
      if (String(a[0]).includes("/ws/events") && b.ws_created === null) {
        b.ws_created = performance.now();
        this.addEventListener("message", () => {
          if (b.ws_first_message === null) b.ws_first_message = performance.now();
        });
      }
    }
  };
  let last = 0;
  new MutationObserver(() => {
    const n = document.querySelectorAll(sel).length;
    if (n === last) return;
    last = n;
    const t = performance.now();
    b.marks.push([t, n]);
    if (n >= want && b.frame === null) {
      b.frame = -1;
      requestAnimationFrame(() => { b.frame = performance.now(); });
    }
  }).observe(document, { childList: true, subtree: true });
})();
"""

# executeAsync: waits (bounded) for `want` cards and the frame after them, then `settleMs`
# more (the visible cards' usage fetches), then reports.
COLLECT = r"""
const [want, timeoutMs, sel, settleMs, done] = arguments;
const t0 = performance.now();
let settled = false;
(function check() {
  const b = window.__bench;
  const n = document.querySelectorAll(sel).length;
  const waiting = !b || n < want || b.frame === null || b.frame === -1;
  if (waiting && performance.now() - t0 < timeoutMs) return setTimeout(check, 5);
  if (!settled) { settled = true; return setTimeout(check, settleMs); }  // let the cards' fetches finish
  const nav = performance.getEntriesByType("navigation")[0] || {};
  const res = performance.getEntriesByType("resource").map((r) => ({
    name: r.name, transfer: r.transferSize, encoded: r.encodedBodySize, decoded: r.decodedBodySize,
    start: r.startTime, end: r.responseEnd }));
  const more = [...document.querySelectorAll("button")].find((x) => x.offsetParent && /^Show \d+ more/.test(x.textContent));
  done({ probe: b ? { marks: b.marks, ws_created: b.ws_created, ws_first_message: b.ws_first_message,
                      frame: b.frame } : null,
         count: n, show_more: more ? more.textContent : null, href: location.href,
         nav: { response_start: nav.responseStart, response_end: nav.responseEnd,
                dom_interactive: nav.domInteractive, dcl_end: nav.domContentLoadedEventEnd,
                load_end: nav.loadEventEnd, transfer: nav.transferSize, encoded: nav.encodedBodySize,
                decoded: nav.decodedBodySize },
         resources: res });
})();
"""


def med(vals: list[float]) -> dict | None:
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def fetch(port: int, path: str, headers: dict | None = None, timeout: float = 30):
    """One GET on a fresh connection, connected before the clock starts: returns
    (status, headers dict (lower-case), body bytes as sent, seconds send -> last byte)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.connect()
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()  # http.client does not decode Content-Encoding: this is the wire body
        took = time.perf_counter() - t0
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body, took
    finally:
        conn.close()


# ---- /ws/events ---------------------------------------------------------------------

def ws_first_frame(port: int, timeout: float = 30) -> dict:
    """Opens /ws/events like a browser (Origin, permessage-deflate offered) and reads the
    first text message. Times: TCP connect start -> 101, and -> last byte of the message."""
    key = base64.b64encode(os.urandom(16)).decode()
    t0 = time.perf_counter()
    s = socket.create_connection((HOST, port), timeout=timeout)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall((f"GET /ws/events HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   f"Origin: http://{HOST}:{port}\r\n"
                   "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n").encode())
        buf = b""

        def need(n: int) -> None:
            nonlocal buf
            while len(buf) < n:
                chunk = s.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("server closed the socket")
                buf += chunk

        while b"\r\n\r\n" not in buf:
            need(len(buf) + 1)
        head, _, buf = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        if " 101 " not in lines[0] + " ":
            raise RuntimeError(f"/ws/events handshake: {lines[0]}")
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                               .encode()).digest()).decode()
        if hdrs.get("sec-websocket-accept") != accept:
            raise RuntimeError("bad Sec-WebSocket-Accept")
        t_upgraded = time.perf_counter()
        message, wire, frames, compressed = b"", 0, 0, False
        while True:  # frames until the end of the first text message (pings skipped)
            need(2)
            b0, b1 = buf[0], buf[1]
            length, off = b1 & 0x7F, 2
            if length == 126:
                need(4)
                length, off = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                need(10)
                length, off = int.from_bytes(buf[2:10], "big"), 10
            if b1 & 0x80:
                raise RuntimeError("server frame is masked")
            need(off + length)
            payload, buf = buf[off:off + length], buf[off + length:]
            opcode = b0 & 0x0F
            if opcode == 8:
                raise RuntimeError(f"server closed: {payload[:2].hex()} {payload[2:]!r}")
            if opcode in (0, 1):
                if opcode == 1:
                    compressed = bool(b0 & 0x40)
                message += payload
                wire += off + length
                frames += 1
                if b0 & 0x80:
                    break
        t_done = time.perf_counter()
        text = zlib.decompressobj(-15).decompress(message + b"\x00\x00\xff\xff") if compressed else message
        try:  # a masked close 1000, as a polite client would
            mask = os.urandom(4)
            s.sendall(bytes([0x88, 0x82]) + mask + bytes(a ^ b for a, b in zip(b"\x03\xe8", mask)))
        except OSError:
            pass
        return {"connect_to_101_s": t_upgraded - t0, "connect_to_snapshot_s": t_done - t0,
                "wire_bytes": wire, "payload_bytes": len(message), "text_bytes": len(text),
                "frames": frames, "compressed": compressed,
                "extensions": hdrs.get("sec-websocket-extensions"), "text": text}
    finally:
        s.close()


def measure_ws(port: int, n: int, runs: int) -> dict:
    ws_first_frame(port)  # warm-up
    got = [ws_first_frame(port) for _ in range(runs)]
    msg = json.loads(got[-1]["text"])
    if msg.get("type") != "snapshot" or len(msg.get("projects", [])) != n:
        raise RuntimeError(f"first frame: type {msg.get('type')}, {len(msg.get('projects', []))} projects")
    last = {k: v for k, v in got[-1].items() if k != "text"}
    return {**last, "runs": runs, "projects": len(msg["projects"]),
            "instances": len(msg.get("instances", [])), "keys": sorted(msg),
            "text_gzip_bytes": len(zlib.compress(got[-1]["text"], 6)),  # context: if it were deflated
            "connect_to_101": med([g["connect_to_101_s"] for g in got]),
            "connect_to_snapshot": med([g["connect_to_snapshot_s"] for g in got])}


# ---- GET / and its assets -------------------------------------------------------------

def page_assets(page: str) -> list[str]:
    """The /static/ URLs a browser loads for the page: stylesheets, icon, scripts, images,
    and the icon sprite named in <body data-icons> (every card's icons use it). Not the
    footer's <a href> (licences)."""
    urls: list[str] = []
    for tag in re.finditer(r"<(link|script|img|body)\b[^>]*>", page, re.I):
        for attr in re.finditer(r'\b(href|src|data-icons)="([^"]*)"', tag.group(0)):
            url = html.unescape(attr.group(2))
            if url.startswith("/static/") and url not in urls:
                urls.append(url)
    return urls


def measure_page(port: int, single: int) -> dict:
    gz = {"Accept-Encoding": "gzip"}
    for _ in range(20):  # warm-up
        fetch(port, "/")
    out = {}
    for key, hdr in (("plain", {}), ("gzip", gz)):
        rows = [fetch(port, "/", hdr) for _ in range(single)]
        st, h, body, _ = rows[-1]
        if st != 200:
            raise RuntimeError(f"GET / -> {st}")
        out[key] = {"bytes": len(body), "content_encoding": h.get("content-encoding"),
                    "cache_control": h.get("cache-control"), "ttlb": med([r[3] for r in rows])}
    plain = fetch(port, "/")[2].decode()
    if out["gzip"]["content_encoding"] == "gzip":
        out["gzip"]["decoded_bytes"] = len(zlib.decompress(fetch(port, "/", gz)[2], 31))
    assets = []
    for url in page_assets(plain):
        st, h, body, took = fetch(port, url, gz)
        st0, _, raw, _ = fetch(port, url)
        assets.append({"url": url, "status": st, "bytes": len(raw), "gzip_bytes": len(body),
                       "content_encoding": h.get("content-encoding"),
                       "cache_control": h.get("cache-control"), "ttlb_s": took})
        if st != 200 or st0 != 200:
            raise RuntimeError(f"GET {url} -> {st}/{st0}")
    out["assets"] = assets
    out["assets_bytes"] = sum(a["bytes"] for a in assets)
    out["assets_gzip_bytes"] = sum(a["gzip_bytes"] for a in assets)
    return out


# ---- chromedriver (W3C WebDriver over http.client) ------------------------------------

class Driver:
    def __init__(self, tmp: Path, log: Path):
        self.port = free_port()
        with open(log, "ab") as err:
            self.proc = subprocess.Popen([CHROMEDRIVER, f"--port={self.port}"], stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, cwd=tmp)
        foundation.LIVE.append(self.proc)
        self.tmp, self.sid = tmp, None
        deadline = time.monotonic() + 30
        poll(lambda: self._ready(), deadline, self.proc)

    def _ready(self) -> bool:
        try:
            return bool(self.call("GET", "/status", timeout=2).get("ready"))
        except (OSError, RuntimeError):
            return False

    def call(self, method: str, path: str, body=None, timeout: float = 90):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            raw = r.read()
        finally:
            conn.close()
        value = json.loads(raw or b"{}").get("value")
        if r.status != 200:
            err = value if isinstance(value, dict) else {}
            raise RuntimeError(f"webdriver {method} {path}: {r.status} {err.get('error')}: "
                               f"{str(err.get('message'))[:300]}")
        return value

    def session(self, profile: Path, want: int) -> None:
        caps = {"browserName": "chrome", "pageLoadStrategy": "normal",
                "timeouts": {"script": 60000, "pageLoad": 60000, "implicit": 0},
                "goog:chromeOptions": {"binary": CHROMIUM,
                                       "args": CHROME_ARGS + [f"--user-data-dir={profile}"]}}
        v = self.call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})
        self.sid = v["sessionId"]
        self.version = v["capabilities"].get("browserVersion")
        self.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE % (json.dumps(CARD_SEL), want)})

    def s(self, path: str) -> str:
        return f"/session/{self.sid}{path}"

    def cdp(self, cmd: str, params: dict | None = None):
        return self.call("POST", self.s("/goog/cdp/execute"), {"cmd": cmd, "params": params or {}})

    def navigate(self, url: str) -> None:
        self.call("POST", self.s("/url"), {"url": url})

    def run_async(self, script: str, args: list):
        return self.call("POST", self.s("/execute/async"), {"script": script, "args": args})

    def end_session(self) -> None:
        if self.sid:
            try:
                self.call("DELETE", self.s(""), timeout=30)
            except (OSError, RuntimeError):
                pass
            self.sid = None

    def quit(self) -> None:
        self.end_session()
        if self.proc.poll() is None:
            stop(self.proc)
        elif self.proc in foundation.LIVE:
            foundation.LIVE.remove(self.proc)


def one_load(drv: Driver, port: int, want: int, cold: bool) -> dict:
    drv.navigate("about:blank")
    if cold:
        drv.cdp("Network.clearBrowserCache")
    drv.navigate(f"http://{HOST}:{port}/")  # returns after the load event
    r = drv.run_async(COLLECT, [want, 30000, CARD_SEL, 300])
    p = r.get("probe") or {}
    marks = p.get("marks") or []
    first = next((t for t, n in marks if n >= 1), None)
    full = next((t for t, n in marks if n >= want), None)
    frame = p.get("frame")
    origin = f"http://{HOST}:{port}"
    own = [x for x in r["resources"] if x["name"].startswith(origin)]
    return {"cold": cold, "cards": r["count"], "want": want, "show_more": r["show_more"],
            "first_card_ms": first, "all_cards_ms": full,
            "render_ms": full - p["ws_first_message"] if full is not None and p.get("ws_first_message") else None,
            "all_cards_frame_ms": frame if frame is not None and frame >= 0 else None,
            "ws_created_ms": p.get("ws_created"), "snapshot_received_ms": p.get("ws_first_message"),
            "card_count_changes": len(marks), "nav": r["nav"],
            "resources": [{**x, "name": x["name"][len(origin):]} for x in own],
            # transferSize: bytes over the network, headers included (0 when from the cache)
            "static_transfer_bytes": (r["nav"].get("transfer") or 0) + sum(
                x["transfer"] for x in own if x["name"].startswith(f"{origin}/static/")),
            "api_requests": sum(not x["name"].startswith(f"{origin}/static/") for x in own),
            "api_transfer_bytes": sum(x["transfer"] for x in own if not x["name"].startswith(f"{origin}/static/"))}


def measure_browser(drv: Driver, tmp: Path, port: int, n: int, loads: int) -> dict:
    want = min(n, PAGE_CARDS)
    drv.session(tmp / f"chrome-profile-{n}", want)
    try:
        runs = [one_load(drv, port, want, cold=True) for _ in range(loads)]
        runs += [one_load(drv, port, want, cold=False) for _ in range(loads)]
    finally:
        drv.end_session()
    keys = ("first_card_ms", "all_cards_ms", "render_ms", "all_cards_frame_ms", "ws_created_ms",
            "snapshot_received_ms", "static_transfer_bytes", "api_requests", "api_transfer_bytes")
    summary = {}
    for kind in ("cold", "warm"):
        rs = [r for r in runs if r["cold"] == (kind == "cold")]
        summary[kind] = {k: med([r[k] for r in rs]) for k in keys}
        summary[kind]["dcl_end_ms"] = med([r["nav"].get("dcl_end") for r in rs])
        summary[kind]["load_end_ms"] = med([r["nav"].get("load_end") for r in rs])
        summary[kind]["all_loads_complete"] = all(r["cards"] == want for r in rs)
    return {"chromium": drv.version, "want": want, "summary": summary, "loads": runs}


# ---- per N ----------------------------------------------------------------------------

def run_n(args, tmp: Path, n: int, drv: Driver | None, log: Path) -> dict:
    d = tmp / f"n{n}"
    d.mkdir()
    port = free_port()
    cfg, env = build_fixture(d, n, port)
    t0 = time.perf_counter()
    with open(log, "ab") as err:
        proc = subprocess.Popen([args.bin, "run", "-c", str(cfg)], env=env, cwd=d,
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    foundation.LIVE.append(proc)
    poll(lambda: lists_all(get(port, "/api/projects", 10), n), time.monotonic() + 60, proc)
    res = {"projects": n, "port": port, "startup_listed_s": time.perf_counter() - t0,
           "mem_after_startup": mem(proc.pid)}
    print(f"[{n}] server up ({res['startup_listed_s'] * 1e3:.0f} ms); GET /", file=sys.stderr)
    res["page"] = measure_page(port, args.single)
    res["load"] = {}
    use_wrk = shutil.which("wrk") is not None
    for key, hdr in (("plain", {}), ("gzip", {"Accept-Encoding": "gzip"})):
        r = (load_wrk if use_wrk else load_python)(port, "/", args.seconds, hdr)
        res["load"][key] = r
        print(f"[{n}] load / {key}: p50 {r['p50_ms']:.2f} ms, {r['rps']:.0f} req/s", file=sys.stderr)
    res["mem_after_http_load"] = mem(proc.pid)
    print(f"[{n}] /ws/events", file=sys.stderr)
    res["snapshot"] = measure_ws(port, n, args.ws)
    res["mem_after_ws"] = mem(proc.pid)
    res["first_visit_bytes"] = {
        "page_gzip": res["page"]["gzip"]["bytes"], "assets_gzip": res["page"]["assets_gzip_bytes"],
        "snapshot_wire": res["snapshot"]["wire_bytes"]}
    res["first_visit_bytes"]["total"] = sum(res["first_visit_bytes"].values())
    if drv is not None:
        print(f"[{n}] browser", file=sys.stderr)
        res["browser"] = measure_browser(drv, tmp, port, n, args.loads)
    time.sleep(1)
    res["mem_after_runs"] = mem(proc.pid)
    res["sigterm_exit_s"] = stop(proc)
    return res


# ---- output ---------------------------------------------------------------------------

def size(b: float | None) -> str:
    if b is None:
        return "—"
    if b >= 1 << 20:
        return f"{b / (1 << 20):.2f} MiB"
    if b >= 1 << 10:
        return f"{b / 1024:.1f} KiB"
    return f"{b:.0f} B"


def ms(v: float | None, scale: float = 1.0) -> str:
    if v is None:
        return "—"
    v *= scale
    return f"{v:.0f} ms" if v >= 100 else f"{v:.1f} ms" if v >= 10 else f"{v:.2f} ms"


def markdown(res: dict) -> str:
    ns = [r["projects"] for r in res["runs"]]
    rs = res["runs"]
    head = "| Metric | " + " | ".join(f"{n} projects" for n in ns) + " | clauster 0.6.0 (" + \
        "/".join(str(n) for n in ns) + ") | Target |"
    lines = [head, "|---" * (len(ns) + 3) + "|"]

    def row(name, fn, base="—", target="—"):
        cells = []
        for r in rs:
            try:
                cells.append(fn(r))
            except (KeyError, TypeError):
                cells.append("—")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {base} | {target} |")

    b = lambda key: " / ".join(BASE_060[n][key] if n in BASE_060 else "?" for n in ns)
    row("`GET /` body, plain / gzip", lambda r: f"{size(r['page']['plain']['bytes'])} / "
        f"{size(r['page']['gzip']['bytes'])}", b("page") + " (every card in the HTML)", TARGET["page"])
    row(f"`GET /` single request, send → last byte (median of {res['single']}), plain / gzip",
        lambda r: f"{ms(r['page']['plain']['ttlb']['median'], 1e3)} / "
                  f"{ms(r['page']['gzip']['ttlb']['median'], 1e3)}", "—", TARGET["time"])
    for key, label in (("plain", ""), ("gzip", " gzip")):
        row(f"`GET /`{label}, {CONNS} conns {res['seconds']} s ({rs[0]['load'][key]['tool']}): p50 / p99, req/s",
            lambda r, k=key: f"{ms(r['load'][k]['p50_ms'])} / {ms(r['load'][k]['p99_ms'])}, "
                             f"{r['load'][k]['rps']:,.0f}/s",
            b("p50") + " p50" if key == "plain" else "—")
    row("`/ws/events` snapshot frame on the wire (decoded)",
        lambda r: f"{size(r['snapshot']['wire_bytes'])}" + (
            f" ({size(r['snapshot']['text_bytes'])})" if r['snapshot']['compressed'] else ""), "— (in the page)")
    row(f"`/ws/events` connect → snapshot received (median of {res['ws_runs']})",
        lambda r: ms(r["snapshot"]["connect_to_snapshot"]["median"], 1e3))
    row("Static assets the page loads, gzip (count)",
        lambda r: f"{size(r['page']['assets_gzip_bytes'])} ({len(r['page']['assets'])})")
    row("**First visit total**: page (gzip) + assets (gzip) + snapshot frame (as sent)",
        lambda r: f"**{size(r['first_visit_bytes']['total'])}**", b("page") + " + its assets")
    if any("browser" in r for r in rs):
        L = res["loads"]
        for kind, label in (("cold", "cold cache"), ("warm", "warm cache")):
            row(f"Browser ({label}, median of {L}): navigation → first card / all min(N, {PAGE_CARDS}) cards",
                lambda r, k=kind: f"{ms(r['browser']['summary'][k]['first_card_ms']['median'])} / "
                                  f"{ms(r['browser']['summary'][k]['all_cards_ms']['median'])}")
        row(f"… cold: socket created / snapshot in / next frame after all cards",
            lambda r: f"{ms(r['browser']['summary']['cold']['ws_created_ms']['median'])} / "
                      f"{ms(r['browser']['summary']['cold']['snapshot_received_ms']['median'])} / "
                      f"{ms(r['browser']['summary']['cold']['all_cards_frame_ms']['median'])}")
        row("… snapshot in → all cards in the DOM (page script + Alpine render), cold / warm",
            lambda r: f"{ms(r['browser']['summary']['cold']['render_ms']['median'])} / "
                      f"{ms(r['browser']['summary']['warm']['render_ms']['median'])}")
        row("… cold: HTTP bytes the browser received (headers incl.): page + static / API calls (count)",
            lambda r: f"{size(r['browser']['summary']['cold']['static_transfer_bytes']['median'])} / "
                      f"{size(r['browser']['summary']['cold']['api_transfer_bytes']['median'])} "
                      f"({r['browser']['summary']['cold']['api_requests']['median']:.0f})")
    row("Server VmRSS after startup / after the HTTP load / after everything (browser incl.)",
        lambda r: f"{r['mem_after_startup']['VmRSS']} / {r['mem_after_http_load']['VmRSS']} / "
                  f"{r['mem_after_runs']['VmRSS']} MiB",
        "58 MiB idle (10 projects)")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=str(REPO / "target/release/clauster"))
    ap.add_argument("--projects", default="10,200,1000", help="comma-separated N values")
    ap.add_argument("--single", type=int, default=20, help="sequential requests for the single-request time")
    ap.add_argument("--seconds", type=int, default=5, help="load duration per variant")
    ap.add_argument("--ws", type=int, default=5, help="WebSocket snapshot runs")
    ap.add_argument("--loads", type=int, default=3, help="browser page loads, cold and warm each")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--out", default=str(REPO / "bench/results/dashboard-latest.json"))
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"no executable at {args.bin}; run `cargo build --release` first")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` still runs
    ns = [int(x) for x in args.projects.split(",")]
    browser_note = None
    if args.no_browser:
        browser_note = "skipped (--no-browser)"
    elif not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        browser_note = f"skipped: {CHROMIUM} or {CHROMEDRIVER} not found"
    tmp = Path(tempfile.mkdtemp(prefix="clauster-bench-dash-"))
    log = tmp / "server-stderr.log"
    res = {"binary": args.bin, "binary_mtime": time.strftime("%Y-%m-%dT%H:%M:%S%z",
           time.localtime(os.stat(args.bin).st_mtime)), "seconds": args.seconds,
           "single": args.single, "ws_runs": args.ws, "loads": args.loads, "cpus": os.cpu_count(),
           "kernel": os.uname().release, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "loadavg_start": os.getloadavg(), "load_tool": "wrk" if shutil.which("wrk") else "python",
           "browser_note": browser_note, "runs": []}
    drv = None
    try:
        if browser_note is None:
            drv = Driver(tmp, tmp / "chromedriver.log")
        for n in ns:
            res["runs"].append(run_n(args, tmp, n, drv, log))
    except BaseException:
        for name in ("server-stderr.log", "chromedriver.log"):
            if (tmp / name).exists():
                print(f"{name} (tail):\n" + "\n".join((tmp / name).read_text(errors="replace")
                                                      .splitlines()[-30:]), file=sys.stderr)
        raise
    finally:
        if drv is not None:
            drv.quit()
        for proc in list(foundation.LIVE):  # by PID only
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        leftovers = []
        for sig in (signal.SIGTERM, signal.SIGKILL):  # Chromium processes of our profile dirs
            for pid in pids_mentioning(str(tmp)):
                leftovers.append(pid)
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            for _ in range(100):
                if not pids_mentioning(str(tmp)):
                    break
                time.sleep(0.01)
        text = log.read_text(errors="replace") if log.exists() else ""
        shutil.rmtree(tmp, ignore_errors=True)
    res["loadavg_end"] = os.getloadavg()
    notable = [l for l in text.splitlines() if re.search(r"WARN|ERROR|panic", l, re.I)]
    res["server_stderr"] = {"lines": len(text.splitlines()), "warn_error_lines": notable[:50]}
    res["leftover_pids_killed_at_exit"] = sorted(set(leftovers))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(markdown(res))
    if browser_note:
        print(f"\nBrowser part {browser_note}.")
    print(f"\n{len(notable)} WARN/ERROR lines in the server's stderr; load average "
          f"{res['loadavg_start'][0]:.2f} → {res['loadavg_end'][0]:.2f}; raw numbers in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
