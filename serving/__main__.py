"""`python -m serving [--host H] [--port P]`: run the scoring API (the container's entry point; `xfmr serve` is the same)."""

from serving.entry import main

raise SystemExit(main())
