"""crm's part of the personal-data procedures (tandem.privacy runs them): one person's rows exported or erased."""
