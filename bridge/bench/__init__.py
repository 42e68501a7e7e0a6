"""``bridge bench``: turn latency, barge-in and capacity of a running bridge."""
