"""Pure geocoding rules: places, the offline index, caches, movement, breaker, rate limit."""
