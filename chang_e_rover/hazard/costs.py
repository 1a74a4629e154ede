"""The hazard map's cost scale, as nav_msgs/OccupancyGrid carries it (one source).

-1: not seen; 0 to 99: traversable, the cost rising with slope, step and
roughness; 100: untraversable. Pure Python.
"""
UNKNOWN = -1
TRAVERSABLE_MAX = 99     # a limit reached exactly (the cost is 99 x the worst ratio to one)
UNTRAVERSABLE = 100
