"""Storage: SQLModel tables, the database handle and Alembic migrations. Imports nothing of ours above it."""
