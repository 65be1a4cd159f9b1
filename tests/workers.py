"""Real RQ worker processes for the outbox's tests and bench/outbox.py: start one with an
environment, find its work horse, kill both with SIGKILL (a worker that dies mid-job)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_worker(env: dict[str, str], burst: bool = False, log: Path | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker"] + (["--burst"] if burst else [])
    out = open(log, "ab") if log else subprocess.DEVNULL
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True, umask=0o022)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def kill_worker(proc: subprocess.Popen) -> None:
    """SIGKILL the worker and its work horse (RQ forks one per job, in a process group of its own)."""
    horses = children(proc.pid)
    for pid in [proc.pid, *horses]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        kill_worker(proc)
