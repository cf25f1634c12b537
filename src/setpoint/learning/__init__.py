"""Learning: outcomes update each pattern's confidence; mining promotes, merges, expires."""
