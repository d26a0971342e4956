"""One folder per protocol: its exact maths, the float terms the engine runs, its mechanism (docs/architecture.md)."""
