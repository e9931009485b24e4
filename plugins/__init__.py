"""Operation plugins: one module per operation, each registered through the ``motionkit`` entry points."""
