"""The replay loop and its reference twin: start, watchlist, rounds, Comet/Maker hand-off, recording (loading is inputs/, the whole run run.py)."""
