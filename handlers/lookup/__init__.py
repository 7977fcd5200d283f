"""Lookups: one-shot questions about an email, phone, domain, IP, URL, CVE or username."""
