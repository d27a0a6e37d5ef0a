"""Child processes for the Interop suites: start a binary, wait for its ready line, keep its stdout
drained and its stderr in a log file, stop it with SIGTERM (then SIGKILL). Shared by every suite."""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import List, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pump_stdout(stream, lines: "queue.Queue[Optional[str]]", sink: List[str]) -> None:
    """Drains a child's stdout for its whole life (so it never blocks on a full pipe); None marks the end."""
    for line in iter(stream.readline, ""):
        sink.append(line)
        lines.put(line)
    lines.put(None)


class Proc:
    """A child process whose stdout is drained by a thread and whose stderr goes to a log file."""

    def __init__(self, name: str, args: List[str], ready_prefix: str, log_path: Path, ready_timeout: float = READY_TIMEOUT,
                 cwd: Optional[Path] = None) -> None:
        self.name, self.args, self.log_path = name, args, log_path
        self.stdout_lines: List[str] = []
        lines: "queue.Queue[Optional[str]]" = queue.Queue()
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(args, cwd=cwd or REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                                            text=True, encoding="utf-8", errors="replace", bufsize=1)

        threading.Thread(target=pump_stdout, args=(self.process.stdout, lines, self.stdout_lines), name=f"{name}-stdout", daemon=True).start()
        deadline = time.monotonic() + ready_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.fail(f"did not print '{ready_prefix} …' within {ready_timeout:.0f} s")
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                self.process.wait(timeout=10)
                self.fail(f"exited with status {self.process.returncode} before it was ready")
            if line.startswith(ready_prefix):
                self.ready_line = line.strip()
                return

    def fail(self, reason: str) -> None:
        self.stop()
        pytest.fail(f"{self.name} {reason}\ncommand: {' '.join(self.args)}\n--- stdout ---\n{''.join(self.stdout_lines) or '<empty>'}\n"
                    f"--- stderr ({self.log_path}) ---\n{self.log_tail()}", pytrace=False)

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_tail(self, start: int = 0, limit: int = 8000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                text = f.read().decode("utf-8", "replace")
        except OSError as ex:
            return f"<cannot read {self.log_path}: {ex}>"
        return text if len(text) <= limit else "…" + text[-limit:]

    def stop(self, timeout: float = 10) -> Optional[int]:
        """SIGTERM, then SIGKILL after `timeout`. Returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def kill(self) -> int:
        self.process.kill()
        return self.process.wait(timeout=10)
