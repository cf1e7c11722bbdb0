"""Pure media logic: no I/O."""
