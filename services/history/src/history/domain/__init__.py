"""Pure history domain: track points and what is computed from them. No I/O."""
