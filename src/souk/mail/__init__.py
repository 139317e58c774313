"""Outgoing email: the outbox table (``souk.models.mail.OutboundEmail``), the ``mail.send`` job that delivers
it, and the pluggable sender (``.eml`` files in the data dir, or SMTP when ``SOUK_SMTP_URL`` is set)."""
