"""Photos and files attached to reports and case feedback, kept in the configured storage."""
