"""Chinese translations, one module per area, each defining ``ZH: dict[str, str]`` (English -> Chinese)."""
