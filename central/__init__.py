"""The province's central service: packages out, keys at start, results and backups in."""
