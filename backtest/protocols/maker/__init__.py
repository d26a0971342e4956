"""Maker Liquidations 2.0: the Clipper's price curves and take/bark maths (clip.py) and the Dog and
auctions in the replay (mechanism.py)."""
