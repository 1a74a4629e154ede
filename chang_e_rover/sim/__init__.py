"""Simulated hardware: MuJoCo physics of the rover, the lander and lunar terrain."""
import os

# Headless rendering on the CPU; must be chosen before mujoco creates a GL context.
os.environ.setdefault('MUJOCO_GL', 'egl')
