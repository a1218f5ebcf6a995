"""Storage: the database, the tables a compiled schema needs, column types, blobs, and
migrations that refuse to lose data."""
