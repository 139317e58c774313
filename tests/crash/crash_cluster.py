"""A throwaway PostgreSQL cluster (``initdb`` + ``pg_ctl``) that a test may stop with an immediate shutdown; the
fixture ``crash_pg_cluster`` (``conftest.py`` here) makes one per test."""

from __future__ import annotations

import glob
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


@dataclass
class PgCluster:
    bin_dir: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "souk_crash") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}\n{tail}")

    def pg_ctl(self, *args: str) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args)

    def init(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",  # initdb's own files only; the server below runs with fsync on
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# the crash suite's throwaway cluster\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = on\n"
                "synchronous_commit = on\n"
                "full_page_writes = on\n"
                "max_connections = 100\n"
                "shared_buffers = 32MB\n"
            )

    def start(self) -> None:
        self.pg_ctl("-l", str(self.log), "-w", "-t", "60", "start")

    def stop_immediately(self) -> None:
        """``pg_ctl stop -m immediate``: the server quits at once, without a checkpoint."""
        self.pg_ctl("-m", "immediate", "-w", "stop")


__all__ = ["PgCluster", "postgres_bin"]
