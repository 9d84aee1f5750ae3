"""HTTP and Socket.IO adapter: parse input, call the core, shape JSON."""
