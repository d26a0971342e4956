"""The replay: load a book and a scenario, run the loop, write a results folder."""
