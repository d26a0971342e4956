"""`backtest bench`: how fast the engine and the data paths are, each against a baseline."""
