"""Liquidators: who acts, on which pair, with how much, and only when it pays."""
