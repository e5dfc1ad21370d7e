"""cityops: a district's city operations, citizen services and enterprise services in one network."""

__version__ = "0.1.0"
