"""registry: the grid map (district → street → community → grid), its staff and departments."""
