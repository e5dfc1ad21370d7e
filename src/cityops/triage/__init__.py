"""Triage: text classification, place extraction, routing with a confidence gate, hot issues,
surge warnings and reply-quality scoring."""
