"""Storage adapters: SQL (SQLite or PostgreSQL) for records, SQL or Redis for counters."""
