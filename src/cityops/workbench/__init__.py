"""Workbenches: the role homes and the work lists of operators, dispatchers, handlers, inspectors."""
