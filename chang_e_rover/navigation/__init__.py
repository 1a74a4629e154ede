"""Goal driving over the hazard map: arc voting, the hazard gate, recovery. Pure Python.

Imports the hazard folder's map geometry (hazard/gate.py, hazard/planner.py) and
nothing of drive/: the drive controller owns a Navigator and drives what it returns.
"""
