"""What user data may enter a mail header: the one e-mail address check, and single-line text.

Addresses are checked by email-validator (syntax only, no DNS): a dot-atom local part (no
quoted strings), a host name of the Internet (no IP literals, no special-use names such as
``localhost``, ``.local`` or ``.test``), no display name, at most 254 characters. Whatever it
accepts holds no CR, LF, comma, angle bracket or space, so it can neither add a header nor a
recipient.
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

# Line breaks of every kind (Unicode's Cc, Zl and Zp: CR, LF, NEL, U+2028, U+2029) and the other
# control characters, none of which a header may carry.
_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _validated(value: str) -> tuple[str, str]:
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=True,
                                allow_quoted_local=False, allow_domain_literal=False,
                                allow_display_name=False, allow_empty_local=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not an e-mail address: {exc}") from exc
    return value, result.ascii_email or result.normalized


def check_email(value: str) -> str:
    """``value`` unchanged if it is an e-mail address; ValueError saying why not otherwise."""
    return _validated(value)[0]


def smtp_address(value: str) -> str:
    """The checked address as it goes on the wire: an internationalized domain in its ASCII
    (IDNA) form, so that only a non-ASCII local part needs an SMTPUTF8 server."""
    return _validated(value)[1]


def single_line(text: str) -> str:
    """``text`` with each run of line breaks and control characters made one space, so that
    a title written on several lines (or carrying an injected header) stays one header."""
    return _BREAKING.sub(" ", text).strip()
