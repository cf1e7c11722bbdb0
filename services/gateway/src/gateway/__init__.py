"""API gateway: the clients' only way in (REST /v1 and WebSocket)."""
