"""routing: the case workflow — filing, dispatch to the level that can solve it, closure."""
