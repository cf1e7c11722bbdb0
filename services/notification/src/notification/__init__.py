"""Notification service: alarms delivered to people and systems (issue 10)."""
