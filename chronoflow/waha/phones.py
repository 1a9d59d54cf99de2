"""Recipients as people write them -> WhatsApp chat ids.

`+55 (11) 98765-4321`, `11 98765-4321` and `011987654321` are the same person;
libphonenumber (the `phonenumbers` package) knows every country's rules, so we
do not write our own. A number without a country code gets DEFAULT_PHONE_REGION's.
"""
import re
from dataclasses import dataclass

import phonenumbers
from flask_babel import gettext as _

from .. import outcomes

# WhatsApp group ids: 120363012345678901@g.us, or the older <creator>-<timestamp>@g.us.
GROUP = re.compile(r"^\d{5,25}(-\d{5,15})?@g\.us$")
# A chat id written out in full: 5511987654321@c.us.
CHAT = re.compile(r"^(\d{6,20})@c\.us$")


class RecipientError(ValueError):
    """An entry that is not a recipient: the "invalid" outcome, `reason` not_a_number or
    invalid_number (chronoflow/outcomes.py words it)."""

    code = "invalid"

    def __init__(self, reason, entry):
        self.params = {"reason": reason, "entry": entry}
        super().__init__(str(outcomes.describe(self.code, self.params, locale="en")))

    def __str__(self):
        return str(outcomes.describe(self.code, self.params))


@dataclass(frozen=True)
class Recipient:
    entry: str  # as the person typed it
    chat_id: str  # what WAHA sends to
    phone: str | None  # E.164 digits ("5511987654321") for a person, None for a group

    @property
    def is_group(self):
        return self.phone is None

    @property
    def label(self):
        """How the run's page and messages name it."""
        return display_phone(self.phone) if self.phone else self.entry


def parse_recipient(entry, region):
    """A Recipient, or RecipientError with a message naming the entry."""
    text = (entry or "").strip()
    if GROUP.match(text):
        return Recipient(text, text, None)
    chat = CHAT.match(text)
    number_text = "+" + chat.group(1) if chat else text
    try:
        number = phonenumbers.parse(number_text, region)
    except phonenumbers.NumberParseException:
        raise RecipientError("not_a_number", text) from None
    if not phonenumbers.is_valid_number(number):
        raise RecipientError("invalid_number", text)
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
    return Recipient(text, f"{digits}@c.us", digits)


def parse_recipients(entries, region):
    """(recipients, problems): every entry is checked, so all problems show at once."""
    recipients, problems, seen = [], [], {}
    for entry in entries:
        try:
            recipient = parse_recipient(entry, region)
        except RecipientError as exc:
            problems.append(str(exc))
            continue
        if recipient.chat_id in seen:
            problems.append(_("“%(entry)s” is the same as “%(first)s”: list each recipient once.",
                              entry=recipient.entry, first=seen[recipient.chat_id]))
            continue
        seen[recipient.chat_id] = recipient.entry
        recipients.append(recipient)
    return recipients, problems


def display_phone(value):
    """"5511987654321@c.us" or "5511987654321" -> "+55 11 98765-4321" (as is when unknown)."""
    digits = str(value).split("@")[0].split(":")[0]
    if not digits.isdigit():
        return str(value)
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return "+" + digits
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def digits_only(value):
    return re.sub(r"\D", "", value or "")
