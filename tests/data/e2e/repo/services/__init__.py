"""Shared Claire de Binare code used by every back-office service."""
