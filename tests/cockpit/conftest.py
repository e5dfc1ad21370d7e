"""The evaluation tests' small demo district (600 cases, indicators with history) for the cockpit."""

from tests.evaluation.conftest import demo_engine, demo_session  # noqa: F401
