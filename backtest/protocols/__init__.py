"""Pure liquidation maths, one module per protocol version."""
