"""The evaluation tests' small demo district (its fixtures, loaded once more for this package)."""

from tests.evaluation.conftest import demo_engine, demo_session  # noqa: F401
