"""The terminal client: agent, candidate UI, journal, simulator; and the wire protocol."""
