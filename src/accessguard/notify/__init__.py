"""Notifications: rendering, channels, and the outbox dispatcher that sends with retries."""
