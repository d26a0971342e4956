"""Maker Liquidations 2.0: the Clipper's price curves and take/bark maths (clip.py), the Dog's and each ilk's
parameters (params.py), a reserve per ilk in the book (ilks.py), and the Dog and auctions in the replay
(mechanism.py)."""
