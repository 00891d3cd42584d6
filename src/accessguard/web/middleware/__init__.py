"""Small pure-ASGI middlewares, one concern per file."""
