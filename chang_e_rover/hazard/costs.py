"""The hazard map's cost scale, as nav_msgs/OccupancyGrid carries it (one source).

-1: not seen; 0 to 99: traversable, the cost rising with slope, step and
roughness; 100: untraversable. Pure Python.
"""
UNKNOWN = -1
UNTRAVERSABLE = 100
