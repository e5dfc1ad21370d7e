"""The leaders' cockpit (驾驶舱): one screen over indicators, evaluation, warnings, hot issues and risk."""
