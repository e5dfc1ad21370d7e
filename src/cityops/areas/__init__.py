"""Areas: district → streets (街道) → communities (社区) → unit grids (单元网格).

Polygons (WGS-84), point → grid lookup, GeoJSON import/export and the shipped demo data.
"""
