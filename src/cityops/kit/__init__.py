"""Small helpers shared by several capabilities (working calendar, coordinates, codes)."""
