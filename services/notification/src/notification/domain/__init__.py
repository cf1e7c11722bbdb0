"""Pure notification rules: matching, quiet hours, rate limits, signatures, backoff, templates."""
