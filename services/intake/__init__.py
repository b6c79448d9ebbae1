"""intake: takes every citizen request in once, from any channel, and answers for it."""
