#!/usr/bin/env python3
"""Benchmark for the clauster "Live streams" milestone (Python 3.11, stdlib only).

Starts `clauster run` on a throwaway fixture (HOME whose ~/.claude.json trusts the
projects_root, the repo's fake `claude` first on PATH with FAKE_CLAUDE_LOG_RATE=0 so the
fake writes no heartbeats), starts one bridge, and is
itself the line generator: it appends lines straight to the bridge's debug log
(`bridge_debug_log_path`), one write() per batch, every line stamped
`seq=<n> t=<time.time() with µs>`. A reader in a separate process (forked, so it does
not share the writer's GIL) follows `WS /ws/bridge-log/<project>` with a minimal
WebSocket client written here (HTTP/1.1 upgrade, unmasked server frames, masked client
close/pong), and takes latency = receive time − t per line. One bridge (one log file)
serves phases 1-4; each phase opens its own socket:

  1. latency: 20 lines/s, one line per write, 1 s warm-up then 10 s; every line timed;
  2. memory: 400 000 lines at 100 000 lines/s through one socket; server VmRSS/VmHWM
     once they are all delivered, then after the socket is closed and 2 s have passed;
  3. throughput: offered rates (--rates, default 1k … 400k lines/s), --step-seconds (5)
     each, in 10 ms ticks of rate/100 lines per write, all on one socket, waiting for the
     last line of a step before the next; latency on every 100th line (--sample) to keep
     the Python reader fast; lines lost (written − received), the server's skip notes
     (`[clauster] N updates skipped`), the writer's achieved rate and the CPU of the
     server / reader / writer; then memory with the socket open and 2 s after closing it;
  4. the same with one write() per line (--per-line-rates, default 1k, 10k, 40k lines/s),
     as the CLI (and the fake) append their log: many one-line batches on the server,
     which is what its per-viewer budget of 64 batches is counted in;
  5. the repo's fake itself as the writer (--fake-rates, default 1k, 10k, 40k lines/s via
     <project>/.fake-claude-rate; bursts of one-line writes every 10 ms, as measure.sh
     drives it), one fresh bridge and socket per rate, every line timed.

Prints a Markdown table and writes the raw numbers as JSON (`--out`). Loopback only;
every wait and loop is bounded; on exit the reader, the server and every process whose
cmdline mentions the temp dir (bridges outlive the server by design) are killed by PID,
and the dir removed. Writer, reader and server share the machine's cores.

    cargo build --release && python3 bench/live.py [--bin PATH] [--rates 1000,10000]
"""

import argparse, base64, hashlib, json, multiprocessing as mp, os, re, shutil, signal
import socket, sys, tempfile, time
from pathlib import Path
from types import SimpleNamespace

sys.dont_write_bytecode = True  # no bench/__pycache__ from importing the other benches
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bridges import dist, pids_mentioning, proc_stat, request, save, start_server, teardown  # noqa: E402
from foundation import HOST, REPO, mem, stop  # noqa: E402
import foundation  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LAT_RE = re.compile(rb"LAT seq=(\d+) t=(\d+\.\d+)")  # our sampled lines
ANY_RE = re.compile(rb"seq=(\d+) t=(\d+\.\d+)")  # every line of the fake's heartbeats
SKIP_RE = re.compile(rb"\[clauster\] (\d+) updates skipped")
PROJECT = "proj-0000"
BASE = {  # clauster 0.6.0, /work/shared/bench/BASELINE.md (bash fake as the writer, 2 vCPU)
    "latency": "p50 253 / p99 499 / max 502 ms (re-read the file every 0.5 s)",
    "max_rate": "≈ 10 000 lines/s with p99 < 1 s (20 000 falls behind)",
    "rss": "120 MiB, VmHWM 244 MiB, not given back (after its WS steps)",
}
TARGET = {"latency": "p50 ≤ 2 ms, p99 ≤ 10 ms", "max_rate": "≥ 200 000 lines/s", "rss": "≤ 16 MiB"}


# ---------------------------------------------------------------- WebSocket client

def ws_connect(port: int, path: str, timeout: float = 10) -> tuple[socket.socket, bytearray]:
    """Upgrade handshake; returns the socket and any frame bytes read past the headers."""
    sock = socket.create_connection((HOST, port), timeout=timeout)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + f"{HOST}:{port}".encode()
                 + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
                 + b"\r\nSec-WebSocket-Version: 13\r\nOrigin: " + f"http://{HOST}:{port}".encode()
                 + b"\r\n\r\n")
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        if time.monotonic() > deadline or len(buf) > 65536:
            raise TimeoutError("no WebSocket handshake response")
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed during handshake: {bytes(buf[:200])!r}")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status + b" ":
        raise ConnectionError(f"handshake refused: {status!r}")
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    if accept.lower() not in head.lower():
        raise ConnectionError("bad Sec-WebSocket-Accept")
    return sock, bytearray(rest)


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (FIN set)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def parse_frames(buf: bytearray):
    """Yields (fin, opcode, payload) for every complete frame at the front of buf, and
    removes them from it (bytearray front deletion is cheap in CPython)."""
    while len(buf) >= 2:
        b0, b1 = buf[0], buf[1]
        n, pos = b1 & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                return
            n, pos = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            if len(buf) < 10:
                return
            n, pos = int.from_bytes(buf[2:10], "big"), 10
        mask = None
        if b1 & 0x80:  # servers must not mask, but be lenient
            if len(buf) < pos + 4:
                return
            mask, pos = bytes(buf[pos:pos + 4]), pos + 4
        if len(buf) < pos + n:
            return
        payload = bytes(buf[pos:pos + n])
        del buf[:pos + n]
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        yield bool(b0 & 0x80), b0 & 0x0F, payload


def seq_at(msg: bytes, i: int) -> int:
    j = i + 4
    k = j
    while k < len(msg) and 48 <= msg[k] <= 57:
        k += 1
    return int(msg[j:k])


def reader_main(port, project, lat_re, min_seq, max_seconds, ready, stop_evt, last_seq, out):
    """Child process: follows the log socket until told to stop; sends its records back.

    Per message: (receive time, lines, first seq, last seq, updates skipped); per `LAT`
    line: (seq, latency s). Lines with seq < min_seq (the 64 KiB replay) only count."""
    res = {"frames": [], "samples": [], "replay_lines": 0, "bytes": 0, "pings": 0,
           "close": None, "error": None, "messages": 0}
    sock = None
    try:
        sock, buf = ws_connect(port, f"/ws/bridge-log/{project}")
        res["connected_at"] = time.time()
        ready.set()
        sock.settimeout(0.1)
        parts, prev_last = [], -1
        frames, samples = res["frames"], res["samples"]
        deadline = time.monotonic() + max_seconds
        closed, pending = False, bool(buf)  # the handshake read may hold frames already
        while not closed and not stop_evt.is_set() and time.monotonic() < deadline:
            if not pending:
                try:
                    data = sock.recv(1 << 20)
                except socket.timeout:
                    continue
                if not data:
                    res["error"] = "server closed the connection"
                    break
                buf += data
                res["bytes"] += len(data)
            pending = False
            now = time.time()
            for fin, op, payload in parse_frames(buf):  # an incomplete frame stays in buf
                if op == 9:
                    res["pings"] += 1
                    sock.sendall(ws_frame(10, payload))
                    continue
                if op == 8:
                    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                    res["close"] = {"code": code, "reason": payload[2:].decode(errors="replace")}
                    sock.sendall(ws_frame(8, payload[:2]))
                    closed = True
                    break
                if op not in (0, 1, 2):
                    continue
                parts.append(payload)
                if not fin:
                    continue
                msg = parts[0] if len(parts) == 1 else b"".join(parts)
                parts = []
                res["messages"] += 1
                n = msg.count(b"\n") + 1
                skipped = 0
                if b"[clauster]" in msg:
                    for m in SKIP_RE.finditer(msg):
                        skipped += int(m.group(1))
                        n -= 1
                i = msg.find(b"seq=")
                if i < 0:  # no stamped line: startup lines, or a lone skip note
                    if skipped:
                        frames.append((now, n, prev_last, prev_last, skipped))
                    else:
                        res["replay_lines"] += n
                    continue
                first, last = seq_at(msg, i), seq_at(msg, msg.rfind(b"seq="))
                if last < min_seq:
                    res["replay_lines"] += n
                    continue
                frames.append((now, n, first, last, skipped))
                for m in lat_re.finditer(msg):
                    samples.append((int(m.group(1)), now - float(m.group(2))))
                prev_last = last
                last_seq.value = last
        if not closed:  # our close, masked, then wait (bounded) for the server's
            sock.sendall(ws_frame(8, (1000).to_bytes(2, "big")))
            sock.settimeout(1.0)
            end = time.monotonic() + 2
            try:
                while time.monotonic() < end and res["close"] is None:
                    data = sock.recv(1 << 20)
                    if not data:
                        break
                    buf += data
                    for _, op, payload in parse_frames(buf):
                        if op == 8:
                            res["close"] = {"code": int.from_bytes(payload[:2], "big") if len(payload) >= 2
                                            else None, "reason": "reply to ours"}
            except OSError:
                pass
    except Exception as e:  # reported to the parent, which decides
        res["error"] = f"{type(e).__name__}: {e}"
        ready.set()
    finally:
        if sock:
            sock.close()
        out.send(res)
        out.close()


class Reader:
    """The reader process plus what the parent needs to steer it."""

    def __init__(self, port: int, min_seq: int, max_seconds: float, project: str = PROJECT,
                 lat_re: re.Pattern = LAT_RE):
        ctx = mp.get_context("fork")
        self.ready, self.stop_evt = ctx.Event(), ctx.Event()
        self.last_seq = ctx.Value("q", -1, lock=False)
        self.rx, tx = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=reader_main, daemon=True,
                                args=(port, project, lat_re, min_seq, max_seconds, self.ready, self.stop_evt,
                                      self.last_seq, tx))
        self.proc.start()
        tx.close()
        READERS.append(self.proc)
        if not self.ready.wait(10):
            raise TimeoutError("reader did not connect")
        time.sleep(0.3)  # let the 64 KiB replay arrive before the writer starts

    def ticks(self) -> int:
        return (proc_stat(self.proc.pid) or (0, 0, 0))[2]

    def wait_for(self, seq: int, timeout: float) -> float | None:
        """Seconds until a message carrying `seq` (or later) arrived; None on timeout."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.last_seq.value >= seq:
                return time.monotonic() - t0
            if not self.proc.is_alive():
                return None
            time.sleep(0.0005)
        return None

    def finish(self) -> dict:
        self.stop_evt.set()
        res = self.rx.recv() if self.rx.poll(30) else {"error": "reader sent nothing", "frames": [], "samples": []}
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        READERS.remove(self.proc)
        return res


READERS: list = []


# ---------------------------------------------------------------- writer

class Writer:
    """Appends stamped lines to the bridge log, one write() per batch."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self.seq = 0

    def write(self, n: int, every: int) -> None:
        t = time.time()
        pre = (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"
               " [DEBUG] [bridge:work] idle sessions=0/32 spawnMode=same-dir ")
        tail = f" t={t:.6f} x\n"
        sep = tail + pre + "row seq="
        a, b = self.seq + 1, self.seq + 1 + n
        chunks, s = [], a
        while s < b:  # chunks end at multiples of `every`, so only a chunk's first line is one
            e = min(b, (s // every + 1) * every)
            chunks.append(pre + ("LAT" if s % every == 0 else "row") + " seq="
                          + sep.join(map(str, range(s, e))) + tail)
            s = e
        data = "".join(chunks).encode()
        while data:
            data = data[os.write(self.fd, data):]
        self.seq = b - 1

    def run(self, rate: float, seconds: float, every: int, per_line: bool = False) -> dict:
        """rate/100 lines per 10 ms tick (one line per 1/rate s below 100 lines/s); with
        per_line, one write() per line at 1/rate s spacing (sleeping only when > 0.2 ms
        ahead), as the real CLI and the fake append their debug log."""
        per = 1 if per_line else max(1, round(rate / 100))
        tick = per / rate
        n_ticks = max(1, round(seconds / tick))
        first, wall0, cpu0 = self.seq + 1, time.time(), sum(os.times()[:2])
        t0 = time.perf_counter()
        late = 0
        for k in range(n_ticks):
            d = t0 + k * tick - time.perf_counter()
            if d > (0.0002 if per_line else 0):
                time.sleep(d)
            elif d < -tick:
                late += 1
            self.write(per, every)
        took = time.perf_counter() - t0
        span = max(n_ticks * tick, took)
        return {"offered": rate, "lines": self.seq - first + 1, "first_seq": first, "last_seq": self.seq,
                "nominal_s": n_ticks * tick,
                "per_write": per, "writes": n_ticks, "wall_start": wall0, "wall_end": time.time(),
                "seconds": took, "achieved": (self.seq - first + 1) / span,
                "ticks_late": late, "writer_cpu_s": sum(os.times()[:2]) - cpu0}


# ---------------------------------------------------------------- analysis

def step_stats(w: dict, res: dict, drain: float | None, every: int) -> dict:
    lo, hi = w["first_seq"], w["last_seq"]
    frames = [f for f in res["frames"] if lo <= f[3] <= hi]
    lat = [x * 1e3 for s, x in res["samples"] if lo <= s <= hi]
    # A message may straddle two phases (e.g. warm-up and measurement): count only its
    # lines in [lo, hi] (a message's lines are consecutive unless it holds a skip note).
    received = sum(f[1] - max(0, lo - f[2]) - max(0, f[3] - hi)
                   for f in res["frames"] if f[2] <= hi and f[3] >= lo)
    last_recv = max((f[0] for f in frames), default=None)
    return {**w, "sample_every": every, "received": received, "lost": w["lines"] - received,
            "messages": len(frames), "updates_skipped": sum(f[4] for f in frames),
            "skip_notes": sum(1 for f in frames if f[4]),
            # over the writer's nominal span, or longer if the last line came later than that
            "delivered_per_s": received / max(w["nominal_s"], last_recv - w["wall_start"]) if last_recv else 0.0,
            "drain_s": drain, "lag_at_end_s": (last_recv - w["wall_end"]) if last_recv else None,
            "latency_ms": dist(lat)}


def steps_phase(writer: Writer, port: int, pid: int, rates: list[float], args,
                per_line: bool) -> tuple[list[dict], dict]:
    """One socket for all `rates`; waits for each step's last line before the next."""
    rd = Reader(port, writer.seq + 1, len(rates) * (args.step_seconds + 40) + 60)
    steps = []
    for rate in rates:
        w, drain = measured_step(writer, rd, pid, rate, args.step_seconds, args.sample, 30, per_line)
        steps.append((w, drain))
        print(f"  {rate:,.0f}/s offered{' (one write per line)' if per_line else ''}: wrote "
              f"{w['achieved']:,.0f}/s, drained in {drain if drain is None else round(drain, 3)} s",
              file=sys.stderr)
        time.sleep(0.5)
    m = mem(pid)
    r = rd.finish()
    info = {k: r.get(k) for k in ("replay_lines", "messages", "bytes", "pings", "close", "error")}
    info["mem_before_close"] = m
    return [step_stats(w, r, drain, args.sample) for w, drain in steps], info


def last_seq_in(path: str) -> int:
    with open(path, "rb") as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - 8192))
        found = re.findall(rb"seq=(\d+)", f.read())
    return int(found[-1]) if found else 0


def fake_phase(port: int, pid: int, tmp: Path, rates: list[float], seconds: float) -> list[dict]:
    """The repo's fake as the writer (one write() per line, rate/100 of them every 10 ms),
    one fresh bridge and socket per rate; every line timed."""
    rows = []
    for i, rate in enumerate(rates, start=1):
        name = f"proj-{i:04d}"
        (tmp / "projects" / name / ".fake-claude-rate").write_text(f"{rate:g}\n")
        code, inst, _, _ = request(port, "POST", "/api/instances", {"project": name})
        if code != 201 or not inst or inst.get("status") != "running":
            rows.append({"offered": rate, "error": f"POST -> {code}"})
            continue
        time.sleep(0.5)
        min_seq = last_seq_in(inst["bridge_debug_log_path"]) + 1
        rd = Reader(port, min_seq, seconds + 60, name, ANY_RE)
        bp = inst.get("bridge_pid")
        s0, r0, b0, t0 = proc_stat(pid)[2], rd.ticks(), (proc_stat(bp) or (0, 0, 0))[2], time.time()
        time.sleep(seconds)
        span = time.time() - t0
        cpu = [cpu_pct(proc_stat(pid)[2] - s0, span), cpu_pct(rd.ticks() - r0, span),
               cpu_pct((proc_stat(bp) or (0, 0, b0))[2] - b0, span)]
        r = rd.finish()
        request(port, "DELETE", f"/api/instances/{name}")
        fr = r["frames"]
        if not fr:
            rows.append({"offered": rate, "error": r.get("error") or "no lines received"})
            continue
        lo, hi = max(min_seq, min(f[2] for f in fr)), max(f[3] for f in fr)
        received = sum(f[1] - max(0, min_seq - f[2]) for f in fr)
        dt = max(fr[-1][0] - fr[0][0], 1e-9)
        rows.append({"offered": rate, "generated": hi - lo + 1, "received": received, "lost": hi - lo + 1 - received,
                     "generated_per_s": (hi - lo + 1) / dt, "delivered_per_s": received / dt,
                     "messages": len(fr), "lines_per_message": received / len(fr),
                     "updates_skipped": sum(f[4] for f in fr), "skip_notes": sum(1 for f in fr if f[4]),
                     "latency_ms": dist([x * 1e3 for q, x in r["samples"] if q >= lo]),
                     "server_cpu_pct": cpu[0], "reader_cpu_pct": cpu[1], "bridge_cpu_pct": cpu[2],
                     "reader": {k: r.get(k) for k in ("replay_lines", "bytes", "pings", "close", "error")}})
        print(f"  fake @{rate:,.0f}/s: {received:,} lines received, {rows[-1]['lost']} lost", file=sys.stderr)
    return rows


def cpu_pct(ticks: int, seconds: float) -> float:
    return round(100 * ticks / CLK_TCK / seconds, 1) if seconds > 0 else 0.0


def measured_step(writer: Writer, reader: Reader, server_pid: int, rate: float, seconds: float,
                  every: int, drain_timeout: float, per_line: bool = False) -> tuple[dict, float | None]:
    s0, r0 = proc_stat(server_pid)[2], reader.ticks()
    w = writer.run(rate, seconds, every, per_line)
    drain = reader.wait_for(w["last_seq"], drain_timeout)
    span = time.time() - w["wall_start"]
    w["server_cpu_pct"] = cpu_pct(proc_stat(server_pid)[2] - s0, span)
    w["reader_cpu_pct"] = cpu_pct(reader.ticks() - r0, span)
    w["writer_cpu_pct"] = round(100 * w["writer_cpu_s"] / span, 1)
    return w, drain


def markdown(res: dict) -> str:
    L = res["latency"]
    ld = L["latency_ms"]
    out = ["| Metric | Result | Target | clauster 0.6.0 |", "|---|---|---|---|",
           f"| Latency, {L['offered']:g} lines/s, one line per write ({ld['n']} lines over "
           f"{res['latency_seconds']:g} s after a 1 s warm-up) | p50 {ld['p50']:.2f} / p99 {ld['p99']:.2f} / "
           f"max {ld['max']:.2f} ms; {L['lost']} lost | {TARGET['latency']} | {BASE['latency']} |"]
    fm = res.get("figure_of_merit")
    out.append(f"| Highest rate sustained (p99 < 1 s, nothing lost) | "
               f"{f'{fm:,.0f} lines/s' if fm else 'none'} | {TARGET['max_rate']} | {BASE['max_rate']} |")
    m = res["memory"]
    out.append(f"| Server memory after {res['memory_phase']['lines']:,} lines through one socket "
               f"(socket open) | VmRSS {m['after_400k']['VmRSS']} MiB, VmHWM {m['after_400k']['VmHWM']} MiB "
               f"| {TARGET['rss']} | {BASE['rss']} |")
    out.append(f"| … socket closed, +2 s | VmRSS {m['after_400k_closed_2s']['VmRSS']} MiB, "
               f"VmHWM {m['after_400k_closed_2s']['VmHWM']} MiB | — | — |")
    if "after_steps" in m:
        out.append(f"| … after the throughput steps ({res['steps_lines_total']:,} more lines, one socket), "
                   f"socket open / closed +2 s | VmRSS {m['after_steps']['VmRSS']} / "
                   f"{m['after_steps_closed_2s']['VmRSS']} MiB, VmHWM {m['after_steps_closed_2s']['VmHWM']} MiB, "
                   f"{m['after_steps_closed_2s']['Threads']} threads | — | — |")
    out.append(f"| Before any socket (bridge running) | VmRSS {m['before']['VmRSS']} MiB, "
               f"VmHWM {m['before']['VmHWM']} MiB | — | — |")
    out += ["", f"Throughput steps (one bridge, one socket for all steps, {res['step_seconds']:g} s each, "
                f"10 ms ticks; latency on every {res['sample_every']}th line; CPU in % of one core):", "",
            *STEP_HEADER]
    out += step_rows(res["steps"])
    if res.get("per_line"):
        out += ["", "One write() per line (as the CLI appends its debug log; each write can become its "
                    "own batch on the server, so this exercises the per-viewer budget of 64 batches):", "",
                *STEP_HEADER]
        out += step_rows(res["per_line"])
    if res.get("fake"):
        out += ["", f"The repo's fake bridge as the writer (above 100 lines/s it makes rate/100 one-line writes "
                    f"every 10 ms; one fresh bridge and socket per rate, {res['step_seconds']:g} s, every line timed; "
                    "bash needs a core of its own for this):", "",
                "| Fake offered lines/s | Generated lines/s | Delivered lines/s | Received / generated | Lost | "
                "Updates skipped (notes) | Lines per message | p50 ms | p99 ms | max ms | Server / reader / fake CPU |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for f in res["fake"]:
            if "error" in f:
                out.append(f"| {f['offered']:,.0f} | {f['error']} ||||||||||")
                continue
            d = f["latency_ms"]
            out.append(f"| {f['offered']:,.0f} | {f['generated_per_s']:,.0f} | {f['delivered_per_s']:,.0f} | "
                       f"{f['received']:,} / {f['generated']:,} | {f['lost']:,} | {f['updates_skipped']:,} "
                       f"({f['skip_notes']}) | {f['lines_per_message']:.1f} | {d['p50']:.1f} | {d['p99']:.1f} | "
                       f"{d['max']:.1f} | {f['server_cpu_pct']:.0f} / {f['reader_cpu_pct']:.0f} / "
                       f"{f['bridge_cpu_pct']:.0f} % |")
    return "\n".join(out)


STEP_HEADER = ["| Offered lines/s | Writer achieved | Delivered lines/s | Received / written | Lost | "
               "Updates skipped (notes) | p50 ms | p99 ms | max ms | Lag at end | Server / reader / writer CPU |",
               "|---|---|---|---|---|---|---|---|---|---|---|"]


def step_rows(steps: list[dict]) -> list[str]:
    out = []
    for s in steps:
        d = s["latency_ms"]
        f = lambda v: f"{v:.1f}" if v is not None else "n/a"  # noqa: E731
        lag = f"{s['lag_at_end_s'] * 1e3:.0f} ms" if s["lag_at_end_s"] is not None else "n/a"
        out.append(f"| {s['offered']:,.0f} | {s['achieved']:,.0f} | {s['delivered_per_s']:,.0f} | "
                   f"{s['received']:,} / {s['lines']:,} | {s['lost']:,} | {s['updates_skipped']:,} "
                   f"({s['skip_notes']}) | {f(d['p50'])} | {f(d['p99'])} | {f(d['max'])} | {lag} | "
                   f"{s['server_cpu_pct']:.0f} / {s['reader_cpu_pct']:.0f} / {s['writer_cpu_pct']:.0f} % |")
    return out


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=str(REPO / "target/release/clauster"))
    ap.add_argument("--rates", default="1000,10000,50000,100000,200000,400000")
    ap.add_argument("--per-line-rates", default="1000,10000,40000",
                    help="steps with one write() per line ('' to skip)")
    ap.add_argument("--fake-rates", default="1000,10000,40000",
                    help="the fake bridge's own heartbeat rates, one bridge each ('' to skip)")
    ap.add_argument("--step-seconds", type=float, default=5)
    ap.add_argument("--latency-seconds", type=float, default=10)
    ap.add_argument("--memory-lines", type=int, default=400_000)
    ap.add_argument("--sample", type=int, default=100, help="time every Nth line in the steps")
    ap.add_argument("--out", default=str(REPO / "bench/results/live-latest.json"))
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"no executable at {args.bin}; run `cargo build --release` first")
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    per_line_rates = [float(r) for r in args.per_line_rates.split(",") if r.strip()]
    fake_rates = [float(r) for r in args.fake_rates.split(",") if r.strip()]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` still runs
    tmp = Path(tempfile.mkdtemp(prefix="clauster-live-"))
    log, text, leftovers = tmp / "server-stderr.log", "", []
    res = {"binary": args.bin, "cpus": os.cpu_count(), "kernel": os.uname().release,
           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "loadavg_start": os.getloadavg(),
           "step_seconds": args.step_seconds, "latency_seconds": args.latency_seconds,
           "sample_every": args.sample,
           "mode": "one bridge for phases 1-4, one socket per phase; phase 5 one fresh fake bridge and socket per rate"}
    try:
        proc, port, log = start_server(SimpleNamespace(bin=args.bin, bridges=1 + len(fake_rates), log_rate=0), tmp)
        code, inst, took, _ = request(port, "POST", "/api/instances", {"project": PROJECT})
        if code != 201 or not inst or inst.get("status") != "running":
            raise RuntimeError(f"POST /api/instances -> {code} {inst}")
        res["port"], res["start_ms"], res["bridge_pid"] = port, took * 1e3, inst.get("bridge_pid")
        writer = Writer(inst["bridge_debug_log_path"])
        time.sleep(0.5)  # let the fake's startup lines go by
        res["memory"] = {"before": mem(proc.pid)}
        print(f"server pid {proc.pid} on port {port}; bridge running; latency phase", file=sys.stderr)

        # 1. latency at 20 lines/s, every line timed
        rd = Reader(port, writer.seq + 1, args.latency_seconds + 60)
        writer.run(20, 1.0, 1)  # warm-up
        w, drain = measured_step(writer, rd, proc.pid, 20, args.latency_seconds, 1, 10)
        r = rd.finish()
        res["latency"] = step_stats(w, r, drain, 1)
        res["latency_reader"] = {k: r.get(k) for k in ("replay_lines", "messages", "bytes", "pings", "close", "error")}
        print(f"latency p50 {res['latency']['latency_ms']['p50']:.2f} ms; memory phase", file=sys.stderr)

        # 2. memory: 400 000 lines through one socket
        rate = 100_000
        rd = Reader(port, writer.seq + 1, 120)
        w, drain = measured_step(writer, rd, proc.pid, rate, args.memory_lines / rate, args.sample, 30)
        res["memory"]["after_400k"] = mem(proc.pid)
        r = rd.finish()
        res["memory_phase"] = step_stats(w, r, drain, args.sample)
        res["memory_reader"] = {k: r.get(k) for k in ("replay_lines", "messages", "bytes", "pings", "close", "error")}
        time.sleep(2)
        res["memory"]["after_400k_closed_2s"] = mem(proc.pid)
        print(f"memory {res['memory']['after_400k']}; throughput steps {rates}", file=sys.stderr)

        # 3. throughput steps, one socket
        res["steps"], res["steps_reader"] = steps_phase(writer, port, proc.pid, rates, args, False)
        res["memory"]["after_steps"] = res["steps_reader"].pop("mem_before_close")
        res["steps_lines_total"] = sum(s["lines"] for s in res["steps"])
        time.sleep(2)
        res["memory"]["after_steps_closed_2s"] = mem(proc.pid)

        # 4. one write() per line, as the CLI writes its log: many small batches
        if per_line_rates:
            res["per_line"], res["per_line_reader"] = steps_phase(writer, port, proc.pid, per_line_rates,
                                                                  args, True)
            res["per_line_reader"].pop("mem_before_close")

        # 5. the fake bridge itself as the writer
        if fake_rates:
            res["fake"] = fake_phase(port, proc.pid, tmp, fake_rates, args.step_seconds)
            res["memory"]["after_fake"] = mem(proc.pid)
        ok = [s["achieved"] for s in res["steps"]
              if s["lost"] == 0 and s["latency_ms"]["p99"] is not None and s["latency_ms"]["p99"] < 1000]
        res["figure_of_merit"] = max(ok, default=None)

        code, _, took, _ = request(port, "DELETE", f"/api/instances/{PROJECT}")
        res["delete"] = {"http": code, "ms": took * 1e3}
        res["log_bytes"] = os.fstat(writer.fd).st_size
        os.close(writer.fd)
        res["loadavg_end"] = os.getloadavg()
        t = stop(proc)
        res["sigterm_exit_ms"], res["exit_code"] = t and t * 1e3, proc.returncode
    except BaseException:
        if log.exists():
            print("server stderr (tail):\n" + "\n".join(
                log.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
        raise
    finally:
        for p in list(READERS):  # our reader processes, by PID
            if p.is_alive():
                p.kill()
                p.join(5)
        text, leftovers = teardown(tmp, log)
    out = Path(args.out)
    notable = save(res, text, leftovers, out)
    print(markdown(res))
    print(f"\n{len(notable)} WARN/ERROR lines in the server's stderr; {len(leftovers)} leftover processes "
          f"killed at exit; load average {res['loadavg_start'][0]:.1f} at start, "
          f"{res.get('loadavg_end', [float('nan')])[0]:.1f} at the end; {res.get('log_bytes', 0) / 2**20:.0f} MiB "
          f"of log written; raw numbers in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
