"""core.camera: the orthographic option (VESTA's projection) frames every point tightly."""

import numpy as np
import pytest


def test_orthographic_keeps_every_point_in_every_frame():
    from core.camera import orbit, orthographic

    pts = np.array([[x, y, z] for x in (0, 4) for y in (0, 2) for z in (0, 1)], float)
    bounds = np.array([pts.min(0), pts.max(0)])
    cams = orthographic(orbit(bounds, 12, points=pts), pts, aspect=16 / 9, margin=1.0)
    scale = cams[0]["ortho_scale"]
    assert all(c["ortho_scale"] == scale for c in cams)
    touch = 0.0
    for c in cams:
        loc, t = np.array(c["location"]), np.array(c["look_at"])
        back = (loc - t) / np.linalg.norm(loc - t)
        x = np.cross([0, 0, 1.0], back)
        x /= np.linalg.norm(x)
        y = np.cross(back, x)
        u = np.abs((pts - t) @ x) / (scale / 2)  # 1 = the image's left/right edge
        v = np.abs((pts - t) @ y) / (scale / 2 / (16 / 9))
        assert u.max() <= 1 + 1e-9 and v.max() <= 1 + 1e-9
        touch = max(touch, u.max(), v.max())
    assert touch == pytest.approx(1.0)  # tight: some point touches an edge in some frame
