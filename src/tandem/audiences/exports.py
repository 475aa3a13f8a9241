"""The audience export formats: plain data, so `tandem audience --help` offers them without importing the selectors."""

from __future__ import annotations

# One documented column set per tool. Mailchimp's "Import contacts" maps these headers to its default fields
# (Email Address, First Name, Last Name, Phone Number) and reads a Tags column of comma-separated tags;
# Mautic's contact import matches columns named by its field aliases (email, firstname, lastname, company,
# position, phone, country) and a "tags" column.
EXPORT_FORMATS: dict[str, tuple[str, ...]] = {
    "mailchimp": ("Email Address", "First Name", "Last Name", "Phone Number", "Tags"),
    "mautic": ("email", "firstname", "lastname", "company", "position", "phone", "country", "tags"),
}
