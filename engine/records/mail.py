"""E-mail for notifications: the SMTP setting, and sending one message.

The setting is one URL in ``METACRM_SMTP_URL``, ``smtp://[user:password@]host[:port]``
(``smtps://`` for TLS from the start, ``?starttls=true`` to upgrade a plain connection),
with the sender in ``METACRM_MAIL_FROM``. Messages are sent from the outbox after the
commit, so a mail server that is down delays mail and loses none.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["EMAIL_TOPIC", "MailSettings"]

EMAIL_TOPIC = "email.send"


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    tls: bool = False
    starttls: bool = False
    timeout: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> MailSettings | None:
        """The setting from the environment; None when no SMTP server is set.

        Raises:
            ValueError: The URL is not an smtp:// or smtps:// URL with a host.
        """
        url = env.get("METACRM_SMTP_URL")
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                f"METACRM_SMTP_URL must look like smtp://user:password@host:587, not {url!r}"
            )
        tls = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            sender=env.get("METACRM_MAIL_FROM") or f"metacrm@{parts.hostname}",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            starttls=query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes"),
        )

    def send(self, to: str, subject: str, body: str) -> None:
        """Send one plain-text message (UTF-8, so Chinese subjects and bodies arrive
        intact); raises on any SMTP or network failure, for the outbox to retry."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        context = ssl.create_default_context()
        if self.tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
