"""gymkit wrappers (filled in by the wrapper modules)."""
