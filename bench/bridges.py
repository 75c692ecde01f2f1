#!/usr/bin/env python3
"""Benchmark for the clauster "Bridges" milestone (Python 3.11, stdlib only).

Starts `clauster run` on a throwaway fixture (HOME whose ~/.claude.json trusts the
projects_root, N project folders proj-0000..., the repo's fake `claude` first on PATH)
and measures, with N = --bridges (50) fake bridges:

  1. start -> running: each project in turn, POST /api/instances -> 201 (t_total); the
     fake's own readiness is the `Starting poll loop` line of its debug log (ms stamps),
     t_fake = that stamp - send time; clauster's overhead = t_total - t_fake (-1..0 ms);
  2. with all N running and idle: server VmRSS/VmHWM, the bridges' summed RSS, and the
     server's CPU over --cpu-seconds (utime+stime from /proc), first with no client,
     then with one simulated dashboard polling GET /api/instances every 2 s (plus
     --idle-seconds windows before the first start and after the last stop);
  3. GET /api/instances with 8 keep-alive connections for --seconds (wrk, else Python);
  4. stop: DELETE each instance in turn -> 200; then no bridge may be alive and the
     server may have no zombie children;
  5. SIGTERM -> server exit.

Prints a Markdown table and writes the raw numbers as JSON (`--out`). Loopback only;
every wait is bounded; on exit the server and every process whose cmdline mentions the
temp dir (bridges outlive the server by design) are killed by PID, and the dir removed.

    cargo build --release && python3 bench/bridges.py [--bin PATH] [--bridges 50]
"""

import argparse, http.client, json, os, re, shutil, signal, subprocess, sys, tempfile
import threading, time
from datetime import datetime, timezone
from pathlib import Path

sys.dont_write_bytecode = True  # no bench/__pycache__ from importing foundation
sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import FAKE_CLAUDE, HOST, REPO, get, load_python, load_wrk, mem, stop  # noqa: E402
import foundation  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
BASE = {  # clauster 0.6.0, /work/shared/bench/BASELINE.md (same fake, 2 vCPU)
    "start": "p50 264 / p90 268 / max 270 ms (0.25 s readiness poll)",
    "fake": "< 5 ms", "overhead": "≈ 260 ms", "rss": "58.6 MiB", "bridges_rss": "189.5 MiB",
    "cpu_idle": "0.27 %", "cpu_tab": "0.47 % (polls instances + sessions every 4 s)",
    "list": "p50 3.3 / p99 6.3 ms, 2 240 req/s, 35 KiB", "stop": "p50 4.8 / p90 256 / max 256 ms",
    "left": "6 defunct children seen once (§4 bug 13)", "sigterm": "203 ms (0 bridges)"}
TARGET = {"overhead": "≤ 10 ms", "rss": "≤ 12 MiB", "stop": "max ≤ 20 ms", "left": "0 / 0"}
POLL_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z .*Starting poll loop", re.M)
FIRST_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z ", re.M)


def pct(vals: list[float], p: float) -> float | None:
    """Linear-interpolated percentile, as /work/shared/bench/benchtool.py computes it."""
    if not vals:
        return None
    v = sorted(vals)
    k = (len(v) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def dist(vals: list[float]) -> dict:
    return {"n": len(vals), **{f"p{p}": pct(vals, p) for p in (50, 90, 99)},
            "min": min(vals, default=None), "max": max(vals, default=None)}


def stamp(s: str) -> float:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()


def request(port: int, method: str, path: str, body: dict | None = None, timeout: float = 30):
    """One request on a fresh, already connected socket: (status, json|None, s, wall send)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.connect()
        data = json.dumps(body).encode() if body is not None else None
        hdr = {"Origin": f"http://{HOST}:{port}"}
        if data is not None:
            hdr["Content-Type"] = "application/json"
        wall, t0 = time.time(), time.perf_counter()
        conn.request(method, path, body=data, headers=hdr)
        r = conn.getresponse()
        raw = r.read()
        took = time.perf_counter() - t0
        try:
            return r.status, json.loads(raw), took, wall
        except ValueError:
            return r.status, None, took, wall
    finally:
        conn.close()


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, utime+stime ticks) or None if the pid is gone."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return f[0], int(f[1]), int(f[11]) + int(f[12])
    except (OSError, IndexError, ValueError):
        return None


def rss_mib(pids) -> float:
    total = 0
    for pid in pids:
        try:
            m = re.search(r"^VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M)
            total += int(m.group(1)) if m else 0
        except OSError:
            pass
    return round(total / 1024, 2)


def pids_mentioning(text: str) -> list[int]:
    """Every live process whose cmdline contains `text` (our temp dir), except us."""
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            try:
                if text.encode() in Path(f"/proc/{d}/cmdline").read_bytes():
                    found.append(int(d))
            except OSError:
                pass
    return found


def children_of(ppid: int) -> list[tuple[int, str]]:
    return [(int(d), st[0]) for d in os.listdir("/proc")
            if d.isdigit() and (st := proc_stat(int(d))) and st[1] == ppid]


def cpu_window(pid: int, bridge_pids: list[int], seconds: float, port: int | None,
               every: float) -> dict:
    """Server (and bridges') CPU % of one core over a bounded window; optional poller."""
    polls, codes = [0], {}
    end = time.monotonic() + seconds
    conn = [None]

    def poll_once():
        for _ in range(2):  # one keep-alive connection, like a browser tab; one retry
            try:
                conn[0] = conn[0] or http.client.HTTPConnection(HOST, port, timeout=10)
                conn[0].request("GET", "/api/instances")
                r = conn[0].getresponse()
                r.read()
                codes[r.status] = codes.get(r.status, 0) + 1
                polls[0] += 1
                return
            except OSError:
                if conn[0]:
                    conn[0].close()
                conn[0] = None

    s0, b0, t0 = proc_stat(pid)[2], {p: (proc_stat(p) or (0, 0, 0))[2] for p in bridge_pids}, \
        time.monotonic()
    while time.monotonic() < end:
        if port is not None:
            poll_once()
        time.sleep(max(0.0, min(every if port is not None else 1.0, end - time.monotonic())))
    dt, s1 = time.monotonic() - t0, proc_stat(pid)[2]
    b1 = sum(max(0, (proc_stat(p) or (0, 0, b0[p]))[2] - b0[p]) for p in bridge_pids)
    if conn[0]:
        conn[0].close()
    return {"window_s": round(dt, 2), "server_cpu_pct": round(100 * (s1 - s0) / CLK_TCK / dt, 3),
            "server_ticks": s1 - s0, "bridges_cpu_pct": round(100 * b1 / CLK_TCK / dt, 3),
            "polls": polls[0], "poll_codes": codes, "tick_resolution_pct": round(100 / CLK_TCK / dt, 3)}


def start_server(args, tmp: Path) -> tuple[subprocess.Popen, int, Path]:
    home, root, state, fakebin = tmp / "home", tmp / "projects", tmp / "state", tmp / "bin"
    for d in (home, root, state, fakebin):
        d.mkdir(parents=True)
    for i in range(args.bridges):
        (root / f"proj-{i:04d}").mkdir()
    (home / ".claude.json").write_text(json.dumps({"projects": {str(root): {"hasTrustDialogAccepted": True}}}))
    shutil.copyfile(FAKE_CLAUDE, fakebin / "claude")
    (fakebin / "claude").chmod(0o755)
    cfg, log = tmp / "clauster.yml", tmp / "server-stderr.log"
    cfg.write_text(f"projects_root: {root}\nstate_dir: {state}\nport: 0\nhost: {HOST}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUSTER_")}
    env.update(HOME=str(home), PATH=f"{fakebin}:{env.get('PATH', '/usr/bin:/bin')}",
               FAKE_CLAUDE_LOG_RATE=str(args.log_rate))
    with open(log, "ab") as err:
        proc = subprocess.Popen([args.bin, "run", "-c", str(cfg)], env=env, cwd=tmp,
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    foundation.LIVE.append(proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if m := re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read_text(errors="replace")):
            port = int(m.group(1))
            if (r := get(port, "/healthz")) and r[0] == 200:
                return proc, port, log
        time.sleep(0.005)
    raise RuntimeError(f"server not ready (exit code {proc.poll()})")


def phase_start(port: int, n: int) -> list[dict]:
    rows = []
    for i in range(n):
        name = f"proj-{i:04d}"
        code, inst, took, wall = request(port, "POST", "/api/instances", {"project": name})
        row = {"project": name, "http": code, "t_total_ms": took * 1e3,
               "status": (inst or {}).get("status"), "pid": (inst or {}).get("bridge_pid")}
        log_path = (inst or {}).get("bridge_debug_log_path")
        text = Path(log_path).read_text(errors="replace") if log_path and Path(log_path).exists() else ""
        if (m := POLL_RE.search(text)) and (f := FIRST_RE.search(text)):
            row["t_fake_ms"] = (stamp(m.group(1)) - wall) * 1e3
            row["t_first_line_ms"] = (stamp(f.group(1)) - wall) * 1e3
            row["overhead_ms"] = row["t_total_ms"] - row["t_fake_ms"]
        rows.append(row)
    return rows


def markdown(res: dict) -> str:
    f = lambda d, *ks: " / ".join(f"{k} {d[k]:.1f}" for k in ks) + " ms"  # noqa: E731
    st, n = res["start"], res["bridges"]
    m, c0, c1, ld, sp = res["mem_50"], res["cpu_idle"], res["cpu_dashboard"], res["load"], res["stop"]
    rows = [
        (f"Start → running (POST → 201, {st['running']}/{n} sequential)",
         f(st["t_total"], "p50", "p90", "max"), "—", BASE["start"]),
        ("… of which the fake's own readiness (send → `Starting poll loop` stamp)",
         f(st["t_fake"], "p50", "max") + f" (first log line: p50 {st['t_first_line']['p50']:.1f} ms)",
         "—", BASE["fake"]),
        ("… clauster's overhead (t_total − t_fake; stamps are ms, so true value is 0–1 ms lower)",
         f(st["overhead"], "p50", "p90", "max"), TARGET["overhead"], BASE["overhead"]),
        (f"Server RSS, {n} idle bridges (5 s after the last start)",
         f"VmRSS {m['VmRSS']} MiB, VmHWM {m['VmHWM']} MiB, {m['Threads']} threads", TARGET["rss"], BASE["rss"]),
        (f"{n} fake bridges, summed RSS (context: bash)", f"{res['bridges_rss_mib']} MiB", "—", BASE["bridges_rss"]),
        (f"Server CPU before the first start, no client ({res['cpu_no_bridges']['window_s']:.0f} s)",
         f"{res['cpu_no_bridges']['server_cpu_pct']:.3f} % ({res['cpu_no_bridges']['server_ticks']} ticks)",
         "—", "—"),
        (f"Server CPU, {n} idle bridges, no client ({c0['window_s']:.0f} s)",
         f"{c0['server_cpu_pct']:.3f} % ({c0['server_ticks']} ticks; bridges {c0['bridges_cpu_pct']:.2f} %)",
         "—", BASE["cpu_idle"]),
        (f"… with one dashboard polling `/api/instances` every {res['dashboard_every_s']:g} s",
         f"{c1['server_cpu_pct']:.3f} % ({c1['server_ticks']} ticks, {c1['polls']} polls)", "—", BASE["cpu_tab"]),
        (f"`GET /api/instances`, {n} bridges ({ld['tool']}, 8 conns, {res['seconds']} s)",
         f"p50 {ld['p50_ms']:.3f} / p99 {ld['p99_ms']:.3f} ms, {ld['rps']:,.0f} req/s, "
         f"{ld['size_bytes'] / 1024:.1f} KiB, {ld['non_2xx']} non-2xx", "—", BASE["list"]),
        (f"Stop (DELETE → 200, {sp['ok']}/{n} sequential)", f(sp["t"], "p50", "p90", "max"),
         TARGET["stop"], BASE["stop"]),
        ("Bridges alive / server zombie children after the stops (then +2 s)",
         f"{len(sp['alive_after'])} / {len(sp['zombies_after'])} (then {len(sp['alive_after_2s'])} / "
         f"{len(sp['zombies_after_2s'])})", TARGET["left"], BASE["left"]),
        (f"Server CPU after every bridge stopped, no client ({res['cpu_after_stop']['window_s']:.0f} s)",
         f"{res['cpu_after_stop']['server_cpu_pct']:.3f} % ({res['cpu_after_stop']['server_ticks']} ticks); "
         f"RSS {res['mem_after_stop']['VmRSS']} MiB, {res['mem_after_stop']['Threads']} threads", "—",
         "0.20 % (10 s, 120 MiB RSS after its WS steps)"),
        ("Server SIGTERM → exit", f"{res['sigterm_exit_ms']:.1f} ms" if res["sigterm_exit_ms"] else "killed",
         "—", BASE["sigterm"]),
    ]
    out = ["| Metric | Result | Target | clauster 0.6.0 |", "|---|---|---|---|"]
    return "\n".join(out + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows])



def teardown(tmp: Path, log: Path) -> tuple[str, list[int]]:
    """Kills the server and every process whose command line mentions `tmp` (the bridges
    we caused), by PID, waits (bounded) for them to go, reads the server's stderr and
    removes `tmp`. Returns that stderr and the pids that were still alive."""
    leftovers: list[int] = []
    for proc in list(foundation.LIVE):  # the server, by PID
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    for sig in (signal.SIGTERM, signal.SIGKILL):  # bridges we caused, by PID
        for pid in pids_mentioning(str(tmp)):
            if sig == signal.SIGTERM:
                leftovers.append(pid)
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        for _ in range(100):  # bounded: up to 1 s for them to go
            if not pids_mentioning(str(tmp)):
                break
            time.sleep(0.01)
    text = log.read_text(errors="replace") if log.exists() else ""
    shutil.rmtree(tmp, ignore_errors=True)
    return text, leftovers


def save(res: dict, text: str, leftovers: list[int], out: Path) -> list[str]:
    """Adds the server's WARN/ERROR lines and the leftovers to `res`, writes it as JSON to
    `out`, and returns the notable lines."""
    notable = [l for l in text.splitlines() if re.search(r"WARN|ERROR|panic", l, re.I)]
    res["server_stderr"] = {"lines": len(text.splitlines()), "warn_error_lines": notable[:50]}
    res["leftover_pids_killed_at_exit"] = leftovers
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    return notable

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=str(REPO / "target/release/clauster"))
    ap.add_argument("--bridges", type=int, default=50)
    ap.add_argument("--cpu-seconds", type=float, default=30)
    ap.add_argument("--dashboard-every", type=float, default=2.0)
    ap.add_argument("--idle-seconds", type=float, default=5, help="CPU window before/after the bridges")
    ap.add_argument("--seconds", type=int, default=10, help="load duration")
    ap.add_argument("--log-rate", type=float, default=0.2, help="fake heartbeat lines/s")
    ap.add_argument("--out", default=str(REPO / "bench/results/bridges-latest.json"))
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"no executable at {args.bin}; run `cargo build --release` first")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` still runs
    tmp = Path(tempfile.mkdtemp(prefix="clauster-bridges-"))
    log, text, leftovers = tmp / "server-stderr.log", "", []
    res = {"binary": args.bin, "bridges": args.bridges, "seconds": args.seconds, "cpus": os.cpu_count(),
           "kernel": os.uname().release, "clk_tck": CLK_TCK, "log_rate": args.log_rate,
           "dashboard_every_s": args.dashboard_every, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "loadavg_start": os.getloadavg()}  # the box may be shared: note its load
    try:
        proc, port, log = start_server(args, tmp)
        res["port"], res["mem_before"] = port, mem(proc.pid)
        res["cpu_no_bridges"] = cpu_window(proc.pid, [], args.idle_seconds, None, 0)
        print(f"server pid {proc.pid} on port {port}; starting {args.bridges} bridges", file=sys.stderr)
        rows = phase_start(port, args.bridges)
        ok = [r for r in rows if r["http"] == 201 and r["status"] == "running"]
        timed = [r for r in ok if "overhead_ms" in r]
        pids = [r["pid"] for r in ok if r["pid"]]
        res["start"] = {"running": len(ok), "with_log_stamp": len(timed),
                        "t_total": dist([r["t_total_ms"] for r in ok]),
                        "t_fake": dist([r["t_fake_ms"] for r in timed]),
                        "t_first_line": dist([r["t_first_line_ms"] for r in timed]),
                        "overhead": dist([r["overhead_ms"] for r in timed]),
                        "failures": [r for r in rows if r not in ok][:5], "rows": rows}
        print(f"{len(ok)} running; idle 5 s, then CPU windows", file=sys.stderr)
        time.sleep(5)
        res["mem_50"], res["bridges_rss_mib"] = mem(proc.pid), rss_mib(pids)
        res["cpu_idle"] = cpu_window(proc.pid, pids, args.cpu_seconds, None, 0)
        res["cpu_dashboard"] = cpu_window(proc.pid, pids, args.cpu_seconds, port, args.dashboard_every)
        for _ in range(50):  # warm-up, bounded
            get(port, "/api/instances")
        res["load"] = (load_wrk if shutil.which("wrk") else load_python)(port, "/api/instances", args.seconds, {})
        res["load"]["size_bytes"] = len(get(port, "/api/instances", 10)[1])
        res["mem_after_load"] = mem(proc.pid)
        print(f"load: {res['load']['rps']:.0f} req/s; stopping {len(ok)} bridges", file=sys.stderr)
        stops = []
        for r in ok:
            code, inst, took, _ = request(port, "DELETE", f"/api/instances/{r['project']}")
            stops.append({"project": r["project"], "http": code, "t_ms": took * 1e3,
                          "status": (inst or {}).get("status")})
        alive = lambda: [p for p in pids if (s := proc_stat(p)) and s[0] != "Z"]  # noqa: E731
        zombies = lambda: [p for p, s in children_of(proc.pid) if s == "Z"]  # noqa: E731
        res["stop"] = {"ok": sum(s["http"] == 200 for s in stops), "t": dist([s["t_ms"] for s in stops]),
                       "alive_after": alive(), "zombies_after": zombies(), "rows": stops}
        time.sleep(2)
        res["stop"].update(alive_after_2s=alive(), zombies_after_2s=zombies(),
                           children_after_2s=children_of(proc.pid))
        res["mem_after_stop"] = mem(proc.pid)
        res["cpu_after_stop"] = cpu_window(proc.pid, [], args.idle_seconds, None, 0)
        res["loadavg_end"] = os.getloadavg()
        took = stop(proc)
        res["sigterm_exit_ms"], res["exit_code"] = took and took * 1e3, proc.returncode
    except BaseException:
        if log.exists():
            print("server stderr (tail):\n" + "\n".join(
                log.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
        raise
    finally:
        text, leftovers = teardown(tmp, log)
    out = Path(args.out)
    notable = save(res, text, leftovers, out)
    print(markdown(res))
    print(f"\n{len(notable)} WARN/ERROR lines in the server's stderr; {len(leftovers)} leftover "
          f"processes killed at exit; CPU tick = {res['cpu_idle']['tick_resolution_pct']} % of the "
          f"window; load average {res['loadavg_start'][0]:.1f} at start, "
          f"{res.get('loadavg_end', [float('nan')])[0]:.1f} at the end; raw numbers in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
