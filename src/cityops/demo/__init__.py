"""The Gongshu demo: real streets and the real category directory, generated everything else.

``cityops demo`` calls :func:`cityops.demo.loader.load_demo`; docs/demo.md describes what is
real and what is generated.
"""
