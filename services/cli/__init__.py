"""The `lianxin` command line: start the embedded system, submit and follow cases, demo."""
