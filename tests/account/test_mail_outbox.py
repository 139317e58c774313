"""The email outbox: a message queued in a transaction that rolls back is never sent; the sender is chosen from
the settings (files by default, SMTP with SOUK_SMTP_URL); the SMTP sender really speaks SMTP."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.config import Settings
from souk.mail.sender import FileSender, Mailer, SmtpSender, build_message
from souk.mail.service import queue_email
from souk.models import Job, OutboundEmail


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, message: Any, name: str) -> None:
        self.sent.append((str(message["To"]), message.get_content()))


async def test_a_rolled_back_transaction_sends_nothing(session: AsyncSession, run_worker: Any) -> None:
    from souk.mail.sender import mailer

    recorder = RecordingSender()
    mailer.use(recorder)
    try:
        async with session.begin_nested() as nested:
            await queue_email(session, "gone@example.com", "Never", "never sent")
            await nested.rollback()
        kept = await queue_email(session, "kept@example.com", "Hello", "the body", sensitive=False)
        await run_worker()
        assert recorder.sent == [("kept@example.com", "the body\n")]
        assert await session.scalar(select(func.count()).select_from(OutboundEmail)) == 1
        await session.refresh(kept)
        assert kept.sent_at is not None and kept.body == "the body"  # not sensitive: kept as sent
        assert (await session.scalars(select(Job.status).where(Job.kind == "mail.send"))).all() == ["done"]
    finally:
        mailer.use(None)


def test_the_settings_choose_the_sender(tmp_path: Path) -> None:
    mailer = Mailer()
    mailer.configure(Settings(data_dir=tmp_path))
    assert isinstance(mailer.sender, FileSender) and mailer.sender.directory == tmp_path / "outbox"
    mailer.configure(Settings(data_dir=tmp_path, smtp_url="smtps://u%40x:p%3Aw@mail.example:2465"))
    sender = mailer.sender
    assert isinstance(sender, SmtpSender)
    assert (sender.host, sender.port, sender.tls, sender.user, sender.password) == (
        "mail.example",
        2465,
        True,
        "u@x",
        "p:w",
    )
    with pytest.raises(ValueError):
        Settings(smtp_url="http://mail.example")


class TinySmtpServer:
    """Just enough SMTP (no TLS, no auth) to receive one message, on a free local port."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.data = b""
        self.commands: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn, conn.makefile("rb") as reader:
            conn.sendall(b"220 tiny ESMTP\r\n")
            while True:
                line = reader.readline()
                if not line:
                    return
                command = line.decode().strip()
                self.commands.append(command.split(" ", 1)[0].split(":", 1)[0].upper())
                verb = self.commands[-1]
                if verb == "EHLO":
                    conn.sendall(b"250-tiny\r\n250 8BITMIME\r\n")
                elif verb == "DATA":
                    conn.sendall(b"354 go on\r\n")
                    while (chunk := reader.readline()) != b".\r\n":
                        self.data += chunk
                    conn.sendall(b"250 queued\r\n")
                elif verb == "QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")


async def test_the_smtp_sender_delivers_over_smtp() -> None:
    server = TinySmtpServer()
    sender = SmtpSender(f"smtp://127.0.0.1:{server.port}", timeout=5)
    message = build_message("Souk <no-reply@souk.example>", "buyer@example.com", "Hi", "Hello there")
    await sender.send(message, "email-00000001")
    server.thread.join(timeout=5)
    assert server.commands[:3] == ["EHLO", "MAIL", "RCPT"] and "DATA" in server.commands
    received = message_from_bytes(server.data)
    assert received["To"] == "buyer@example.com" and received["Subject"] == "Hi"
    assert received.get_payload().strip() == "Hello there"
    server.sock.close()
