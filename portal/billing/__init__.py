"""Billing core: money, bills, the double-entry ledger and payments."""
