"""SMTP (RFC 5321) protocol module: sessions as mail transactions."""

from .module import SmtpModule

MODULE = SmtpModule

__all__ = ["MODULE", "SmtpModule"]
