"""`cdbctl verify`: is the CDB stack up? Containers, HTTP, Redis and PostgreSQL checked in parallel."""
