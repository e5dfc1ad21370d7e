"""Safety: risk sources and four-level warnings (蓝/黄/橙/红), shared by every warning source."""
