"""The city indicator system (城市运行指标体系): catalog, definitions, levels, history per area."""
