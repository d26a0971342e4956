"""Maker Liquidations 1.x: Cat.bite and the Flipper's tend/dent/deal/tick (flip.py), each ilk's Cat and
Flipper parameters and its switch to Dog/Clipper (params.py), and the auctions with their keepers in the
replay (mechanism.py)."""
