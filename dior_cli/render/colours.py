"""A colour per track id that never changes: the same id gets the same colour in every
frame, every run and on every machine.

The hue is the golden-ratio step of the id (``frac(obj_id * 0.618...)``), so consecutive
ids (``2001``, ``2002``, ...) land far apart on the colour wheel. Hues are squeezed into
green -> blue -> magenta, so no track is ever drawn in the error colours (red for false
positives, orange for ID switches, yellow for misses). No random generator, no state.
"""

from __future__ import annotations

import colorsys

GOLDEN = 0.6180339887498949
HUE_RANGE = (0.25, 0.90)  # fractions of the colour wheel: green .. magenta
SATURATION = 0.85
VALUE = 0.95

FALSE_POSITIVE = (255, 0, 0)  # RGB red
MISS = (255, 255, 0)  # RGB yellow
SWITCH = (255, 140, 0)  # RGB orange
IGNORE = (160, 160, 160)  # RGB grey
TEXT = (0, 0, 0)


def track_colour(obj_id: int) -> tuple[int, int, int]:
    """The RGB colour (0-255 each) of track ``obj_id``."""
    step = (int(obj_id) * GOLDEN) % 1.0
    hue = HUE_RANGE[0] + step * (HUE_RANGE[1] - HUE_RANGE[0])
    r, g, b = colorsys.hsv_to_rgb(hue, SATURATION, VALUE)
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))
