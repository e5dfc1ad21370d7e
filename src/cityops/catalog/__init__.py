"""The catalog: category directory (GB/T 47678.5 + local), criteria, time limits, responsibility list."""
