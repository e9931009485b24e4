"""Format plugins: each module turns bytes into Motions and back, and registers itself with ``register_formats``."""
