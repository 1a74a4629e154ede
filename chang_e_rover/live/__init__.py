"""The live view: a Foxglove WebSocket server streaming the stack's state and a 3D scene."""
