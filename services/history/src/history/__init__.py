"""History: every position, stored once, readable by device and time; trips, stops, daily
summaries, overspeed segments and exports computed from them."""
