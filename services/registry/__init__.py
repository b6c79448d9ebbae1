"""registry: the grid map (district → street → community → grid) and the base data on it —
buildings, households, persons with their ledger tags, staff and departments. See
README.md in this directory."""
