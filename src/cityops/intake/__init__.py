"""Intake: every channel into one Report shape (web, Open311, hotline, inspectors, AI cameras,
IoT telemetry); duplicates, merchant self-correction and the automatic re-check."""
