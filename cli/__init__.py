"""The `xfmr` command line: a composition root of its own (nothing imports it); one module per command group."""
