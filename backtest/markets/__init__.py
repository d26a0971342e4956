"""Venues where seized collateral is sold, and the oracles that read them."""
