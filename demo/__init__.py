"""`xfmr demo`: the whole loop on embedded defaults (a composition root of its own: nothing imports it)."""
