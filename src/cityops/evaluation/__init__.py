"""Evaluation (综合评价): rates, scores and rankings of departments, streets, communities, grids,
inspectors."""
