"""Pure box geometry shared by fixed-size click boxes and crop export (private)."""

from __future__ import annotations

import math
from numbers import Real

__all__ = ["fit_box"]


def fit_box(
    cx: float, cy: float, w: float, h: float, width: float, height: float
) -> tuple[float, float]:
    """Place a box of exactly ``w`` x ``h`` centred on ``(cx, cy)``, shifted to lie inside the image.

    The box is moved, never shrunk: near a border it is shifted until all four edges lie
    inside ``[0, width] x [0, height]``. This is the rule of fixed-size click boxes and of
    fixed-size crops (DESIGN.md, "Fixed-size click boxes").

    Parameters
    ----------
    cx, cy : float
        The centre asked for (a click), in image pixels, top-left origin.
    w, h : float
        Size of the box; must be positive and no larger than the image.
    width, height : float
        Size of the (EXIF-corrected) image.

    Returns
    -------
    tuple of float
        ``(x, y)``, the top-left corner, with ``0 <= x <= width - w`` and
        ``0 <= y <= height - h``.

    Raises
    ------
    ValueError
        If a size is not positive and finite, or the box is larger than the image.

    Examples
    --------
    >>> fit_box(5, 50, 20, 20, 100, 80)     # near the left edge: shifted right
    (0.0, 40.0)
    >>> fit_box(50, 79, 20, 20, 100, 80)    # near the bottom edge: shifted up
    (40.0, 60.0)
    """
    for name, value in (("w", w), ("h", h), ("width", width), ("height", height)):
        if not (isinstance(value, Real) and math.isfinite(value) and value > 0):
            raise ValueError(f"`{name}` must be a positive finite number. Got {value!r} instead.")
    for name, value in (("cx", cx), ("cy", cy)):
        if not (isinstance(value, Real) and math.isfinite(value)):
            raise ValueError(f"`{name}` must be a finite number. Got {value!r} instead.")
    if w > width or h > height:
        raise ValueError(
            f"The box size must fit inside the image ({width:g} x {height:g} pixels). "
            f"Got {w:g} x {h:g} instead; choose a smaller box size."
        )
    x = min(max(float(cx) - w / 2, 0.0), float(width) - w)
    y = min(max(float(cy) - h / 2, 0.0), float(height) - h)
    return x, y
