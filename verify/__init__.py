"""Framework-free verification (seals, trust bundles). Filled in by the seal issue."""
