"""cdbctl: operations CLI for the Claire de Binare (CDB) trading back office."""

__version__ = "0.4.0"
