"""Getting outside data into the lake: one module per source."""
