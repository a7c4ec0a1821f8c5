#!/usr/bin/python3
"""Times a server's start, reload and stop, for bench/operations.sh.

  lifecycle_timer.py ours  --port P --rounds R -- CMD...   (genkit-endpoints)
  lifecycle_timer.py nginx --port P --rounds R -- CMD...   (nginx -p DIR -c CONF)

ours: spawns CMD with NOTIFY_SOCKET set and times READY=1 (sent once every
worker and grpcd accepts), the first 200 from GET /health, SIGHUP to the
next READY=1 (every new process ready, the old ones draining), and SIGTERM
to exit. nginx (no sd_notify): the first 200 from /health, `-s reload` until
every worker process of the master is a new one, and `-s quit` to exit.
Prints one line per figure: "<name> <median ms> <all rounds ms>".
"""
import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

DEADLINE_S = 20


def now_ms():
    return time.monotonic() * 1000


def health_ok(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        c.request("GET", "/health")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def wait_health(port, start):
    while now_ms() - start < DEADLINE_S * 1000:
        if health_ok(port):
            return now_ms() - start
        time.sleep(0.002)
    raise SystemExit("server never answered /health")


def wait_notify(sock, line, start):
    sock.settimeout(DEADLINE_S)
    while True:
        data = sock.recv(4096).decode(errors="replace")
        if line in data.split("\n"):
            return now_ms() - start


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return set(int(x) for x in f.read().split())
    except OSError:
        return set()


def ours(args, cmd, results):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        env = dict(os.environ, NOTIFY_SOCKET=path)
        for _ in range(args.rounds):
            start = now_ms()
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                results["start_to_ready"].append(wait_notify(sock, "READY=1", start))
                results["start_to_first_200"].append(wait_health(args.port, start))
                time.sleep(0.3)
                start = now_ms()
                proc.send_signal(signal.SIGHUP)
                results["reload_to_ready"].append(wait_notify(sock, "READY=1", start))
                time.sleep(0.5)
                start = now_ms()
                proc.send_signal(signal.SIGTERM)
                proc.wait(DEADLINE_S)
                results["stop_to_exit"].append(now_ms() - start)
            finally:
                if proc.poll() is None:  # a failed round leaves no server behind
                    proc.send_signal(signal.SIGQUIT)
                    proc.wait(DEADLINE_S)


def nginx(args, cmd, results):
    for _ in range(args.rounds):
        start = now_ms()
        subprocess.run(cmd, check=True)
        results["start_to_first_200"].append(wait_health(args.port, start))
        pidfile = args.pidfile
        master = int(open(pidfile).read())
        time.sleep(0.3)
        old = children(master)
        start = now_ms()
        subprocess.run(cmd + ["-s", "reload"], check=True, stderr=subprocess.DEVNULL)
        while now_ms() - start < DEADLINE_S * 1000:
            kids = children(master)
            if kids and not (kids & old) and health_ok(args.port):
                break
            time.sleep(0.002)
        results["reload_to_ready"].append(now_ms() - start)
        time.sleep(0.5)
        start = now_ms()
        subprocess.run(cmd + ["-s", "quit"], check=True, stderr=subprocess.DEVNULL)
        while os.path.exists(f"/proc/{master}") and now_ms() - start < DEADLINE_S * 1000:
            time.sleep(0.002)  # (the daemonized master is init's child: nothing to reap here)
        results["stop_to_exit"].append(now_ms() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["ours", "nginx"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--pidfile", default="")
    argv = sys.argv[1:]
    if "--" not in argv:
        p.error("the server's command line follows --")
    split = argv.index("--")
    args = p.parse_args(argv[:split])
    cmd = argv[split + 1:]
    results = {"start_to_ready": [], "start_to_first_200": [], "reload_to_ready": [], "stop_to_exit": []}
    (ours if args.kind == "ours" else nginx)(args, cmd, results)
    for name, values in results.items():
        if values:
            print(f"{name} {statistics.median(values):.1f} {' '.join(f'{v:.1f}' for v in values)}")


if __name__ == "__main__":
    sys.exit(main())
