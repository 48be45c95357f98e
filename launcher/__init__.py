"""Start, watch and stop long-running services as plain processes (for the demo, the stack tests and benchmarks)."""

from launcher.process import ServiceProcess, free_port

__all__ = ["ServiceProcess", "free_port"]
