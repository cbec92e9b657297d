"""Sending e-mail over real SMTP (to the embedded sink by default)."""
from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid


class MailNotSent(RuntimeError):
    """The SMTP server could not take the message."""


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int
    sender_name: str
    sender_address: str

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> str:
        message = EmailMessage()
        message["From"] = formataddr((self.sender_name, self.sender_address))
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=self.sender_address.split("@")[-1])
        message.set_content(text)
        if html:
            message.add_alternative(html, subtype="html")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailNotSent(f"SMTP {self.host}:{self.port}: {exc}") from exc
        return message["Message-ID"]
