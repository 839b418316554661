"""gymkit reference agents."""
