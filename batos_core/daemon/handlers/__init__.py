"""Request handlers: one small module per area.

Which handler answers which request type, and where it runs, is the route
table `batos_core.daemon.routes`; importing a handler module registers
nothing. A worker handler runs inside the request's transaction and returns
a reply model; it raises to fail (the dispatcher turns exceptions into typed
error replies and aborts the transaction). A loop handler gets a
`batos_core.daemon.context.LoopContext` and must not block.
"""
