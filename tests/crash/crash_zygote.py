"""Fast restarts for the crash suite: a "zygote" process imports Souk and builds the app once, then forks a
fresh server process (uvicorn on a port) whenever the test asks for one.

Starting ``uvicorn souk.app:create_app`` from scratch costs about five seconds of CPU (imports and route
building); the crash suite restarts servers dozens of times per run, so it restarts them from the zygote
instead (a few milliseconds). Each forked server is still a real, separate process with its own memory, its own
database connections and its own port: ``ServerGroup.kill`` sends it SIGKILL exactly as it does to a server that
``ServerGroup.start`` launched, and nothing of it survives the kill but what it committed to the database.

The zygote never touches the database or runs an event loop before it forks (``create_app`` only builds the
engine; connections open in the child), so a child starts from a clean state.

```python
zygote = Zygote.spawn(servers)       # once per server group (its environment, its database)
zygote.wait_ready()
servers.kill(0)
zygote.start(servers, 0)             # instead of servers.start(0)
await servers.ready()
```
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ZYGOTE_READY_TIMEOUT = 60.0


class ForkedProcess:
    """The part of ``subprocess.Popen`` that ``ServerGroup`` uses (``pid``, ``poll``, ``wait``), for a server
    forked by the zygote (the zygote reaps it; this side only watches its pid)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def _running(self) -> bool:
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
        return state not in ("Z", "X")

    def poll(self) -> int | None:
        if self.returncode is None and not self._running():
            self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"server pid {self.pid}", timeout or 0)
            time.sleep(0.005)
        assert self.returncode is not None
        return self.returncode


@dataclass
class Zygote:
    popen: subprocess.Popen[bytes]
    log: Path
    forked: int = 0

    @classmethod
    def spawn(cls, servers: Any) -> Zygote:
        """Start the zygote with the environment of ``servers`` (a ``ServerGroup``); ``wait_ready`` waits until
        its app is built."""
        log = servers.data_dir / "zygote.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, __file__],
                env=servers.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=out,
                start_new_session=True,
            )
        return cls(popen, log)

    def wait_ready(self) -> None:
        line = self._read_line(ZYGOTE_READY_TIMEOUT)
        if line != "ready":
            self.close()
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the server zygote did not start ({line!r}):\n{tail}")

    def _read_line(self, timeout: float) -> str:
        import selectors

        stdout: IO[bytes] | None = self.popen.stdout
        assert stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return "<timeout>"
        return stdout.readline().decode().strip()

    def start(self, servers: Any, index: int) -> None:
        """Fork a server for process ``index`` of ``servers`` on its port (``servers.ready()`` waits for it)."""
        proc = servers.processes[index]
        if proc.popen is not None and proc.popen.poll() is None:
            return
        stdin = self.popen.stdin
        assert stdin is not None
        stdin.write(f"{proc.port} {proc.log}\n".encode())
        stdin.flush()
        reply = self._read_line(10.0)
        if not reply.isdigit():
            raise RuntimeError(f"the server zygote could not fork a server: {reply!r}")
        proc.popen = ForkedProcess(int(reply))
        self.forked += 1

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream is not None:
                stream.close()


def _serve(app: Any, port: int, log: str) -> None:
    """In the forked child: a new session, output to ``log``, uvicorn on ``port`` until killed."""
    import uvicorn

    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    from souk.app import create_app

    app = create_app()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked servers are reaped as they die
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not parts[0].isdigit():
            out.write("bad command\n")
            out.flush()
            continue
        pid = os.fork()
        if pid == 0:  # the server
            code = 0
            try:
                _serve(app, int(parts[0]), parts[1].strip())
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            os._exit(code)
        out.write(f"{pid}\n")
        out.flush()


if __name__ == "__main__":
    main()
