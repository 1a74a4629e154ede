"""The Chang'e 4 lander: rover deployment, terrain camera panorama, mutual imaging."""
