"""The runtime layer: goroutines, the scheduler, timers, PollDesc, threads
and channels (Go's runtime, minus the per-OS pollers in netpoll.poller)."""
