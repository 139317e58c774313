"""Senders deliver one message. ``FileSender`` (the default) writes ``<data dir>/outbox/<id>.eml``;
``SmtpSender`` (``SOUK_SMTP_URL``) hands it to an SMTP server with the standard library's ``smtplib``, in a
thread. Neither logs a message's body (it may carry a password reset link)."""

from __future__ import annotations

import asyncio
import logging
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from souk.config import Settings, get_settings
from souk.kit.clock import utcnow

log = logging.getLogger("souk.mail")


class Sender(Protocol):
    async def send(self, message: EmailMessage, name: str) -> None:
        """Deliver ``message``; ``name`` identifies it (the outbox row), for file names and logs."""
        ...


def build_message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or "localhost")
    message.set_content(body)
    return message


class FileSender:
    """Writes each message as ``<directory>/<name>.eml`` (readable by its owner only)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage, name: str) -> None:
        await asyncio.to_thread(self._write, message, name)
        log.info("email %s written to the outbox directory", name)

    def _write(self, message: EmailMessage, name: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{name}.eml"
        partial = path.with_suffix(".eml.part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(message))
        partial.replace(path)


class SmtpSender:
    """``smtp://[user:password@]host[:port]`` (STARTTLS when the server offers it) or ``smtps://`` (TLS)."""

    def __init__(self, url: str, timeout: float = 20) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SOUK_SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 587)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    async def send(self, message: EmailMessage, name: str) -> None:
        await asyncio.to_thread(self._send, message)
        log.info("email %s handed to %s:%s", name, self.host, self.port)

    def _send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if not self.tls:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
            if self.user is not None:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


class Mailer:
    """The process's sender, chosen from the settings (``configure``) or replaced in tests (``use``)."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._sender: Sender | None = None

    def configure(self, settings: Settings) -> None:
        self._settings = settings
        self._sender = None

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    def use(self, sender: Sender | None) -> None:
        """Send through ``sender`` (a test double); None goes back to the settings' choice."""
        self._sender = sender

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            settings = self.settings
            if settings.smtp_url:
                self._sender = SmtpSender(settings.smtp_url)
            else:
                self._sender = FileSender(settings.data_dir / "outbox")
        return self._sender


mailer = Mailer()
