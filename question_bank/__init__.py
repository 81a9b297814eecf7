"""Item banks, paper assembly, scoring and the encrypted paper package format (pure)."""
