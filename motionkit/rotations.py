"""Rotation maths on numpy arrays: quaternions (w, x, y, z), matrices, Euler angles in any order, 6D.

Everything is vectorised over leading dimensions. Euler angles follow the BVH convention: the channels
compose intrinsically in the order listed, R = R_c1 · R_c2 · R_c3, angles in degrees.
"""
import numpy as np

_AXES = {"X": 0, "Y": 1, "Z": 2}


def normalize(q):
    q = np.asarray(q, dtype=np.float64)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def multiply(a, b):
    """Hamilton product a ⊗ b (apply b first, then a)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]  # views: cheaper than moveaxis on small arrays
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def conjugate(q):
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def rotate(q, v):
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4)."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    vx, vy, vz = v[..., 0], v[..., 1], v[..., 2]
    # t = 2 u × v;  v' = v + w t + u × t  (components by hand: np.cross is slow on small trailing axes)
    tx, ty, tz = 2.0 * (y * vz - z * vy), 2.0 * (z * vx - x * vz), 2.0 * (x * vy - y * vx)
    return np.stack([vx + w * tx + (y * tz - z * ty),
                     vy + w * ty + (z * tx - x * tz),
                     vz + w * tz + (x * ty - y * tx)], axis=-1)


def identity(shape=()):
    q = np.zeros(tuple(shape) + (4,))
    q[..., 0] = 1.0
    return q


def from_axis_angle(axis: int, radians):
    radians = np.asarray(radians, dtype=np.float64)
    q = np.zeros(radians.shape + (4,))
    q[..., 0] = np.cos(radians / 2)
    q[..., 1 + axis] = np.sin(radians / 2)
    return q


def from_euler(degrees, order: str):
    """Quaternions from Euler angles (..., len(order)) in degrees, composed intrinsically in ``order``."""
    degrees = np.asarray(degrees, dtype=np.float64)
    q = identity(degrees.shape[:-1])
    for i, axis in enumerate(order):
        q = multiply(q, from_axis_angle(_AXES[axis], np.radians(degrees[..., i])))
    return q


def to_matrix(q):
    q = normalize(q)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def from_matrix(m):
    """Unit quaternions (w >= 0) from rotation matrices (..., 3, 3), stable on every branch."""
    m = np.asarray(m, dtype=np.float64)
    shape = m.shape[:-2]
    # Components apart, contiguous: (9, N). Four candidate (unnormalised) quaternions, written into one
    # preallocated (4, 4, N) block (np.stack of strided views cost most of a crowd's decoding); per element the
    # candidate with the largest norm.
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = np.ascontiguousarray(m.reshape(-1, 9).T)
    c = np.empty((4, 4, m00.shape[0]))
    c[0, 0] = c[1, 1] = c[2, 2] = c[3, 3] = 1.0
    c[0, 0] += m00 + m11 + m22
    c[1, 1] += m00 - m11 - m22
    c[2, 2] += -m00 + m11 - m22
    c[3, 3] += -m00 - m11 + m22
    c[0, 1] = c[1, 0] = m21 - m12
    c[0, 2] = c[2, 0] = m02 - m20
    c[0, 3] = c[3, 0] = m10 - m01
    c[1, 2] = c[2, 1] = m01 + m10
    c[1, 3] = c[3, 1] = m02 + m20
    c[2, 3] = c[3, 2] = m12 + m21
    best = np.argmax(c[[0, 1, 2, 3], [0, 1, 2, 3]], axis=0)
    q = np.take_along_axis(c, best[None, None], axis=0)[0]  # (4, N)
    q /= np.sqrt(np.einsum("ij,ij->j", q, q))
    q *= np.where(q[0] < 0, -1.0, 1.0)
    return q.T.reshape(shape + (4,))


def to_euler(q, order: str):
    """Euler angles in degrees (..., 3) for a three-axis ``order`` (all axes distinct), R = R_a·R_b·R_c."""
    if len(order) != 3 or len(set(order)) != 3:
        raise ValueError(f"to_euler needs three distinct axes, got {order!r}")
    i, j, k = (_AXES[a] for a in order)
    sign = 1.0 if (j - i) % 3 == 1 else -1.0  # parity of the axis permutation
    r = to_matrix(q)
    # For R = Ri(a) Rj(b) Rk(c):  R[i,k] = sign*sin(b);  R[j,k], R[k,k] give a;  R[i,j], R[i,i] give c.
    sb = np.clip(sign * r[..., i, k], -1.0, 1.0)
    b = np.arcsin(sb)
    a = np.arctan2(-sign * r[..., j, k], r[..., k, k])
    c = np.arctan2(-sign * r[..., i, j], r[..., i, i])
    # Near gimbal lock the two atan2 arguments vanish; put all of the remaining rotation into a.
    lock = np.abs(sb) > 1 - 1e-9
    if np.any(lock):
        a_lock = np.arctan2(sign * r[..., k, j], r[..., j, j])
        a = np.where(lock, a_lock, a)
        c = np.where(lock, 0.0, c)
    return np.degrees(np.stack([a, b, c], -1))


def unwrap_degrees(angles, axis=0):
    """Remove 360° jumps along ``axis`` so curves in a DCC stay continuous."""
    return np.degrees(np.unwrap(np.radians(angles), axis=axis))


def make_continuous(q, axis=0):
    """Flip quaternion signs along ``axis`` (time) so consecutive keys are in the same hemisphere."""
    q = np.array(q, dtype=np.float64, copy=True)
    q = np.moveaxis(q, axis, 0)
    dots = np.sum(q[1:] * q[:-1], axis=-1)
    flips = np.cumsum(dots < 0, axis=0) % 2
    q[1:] *= np.where(flips[..., None] == 1, -1.0, 1.0)
    return np.moveaxis(q, 0, axis)


def slerp(a, b, t):
    """Spherical interpolation between unit quaternions a and b at fraction t (broadcast)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin = np.sin(theta)
    small = sin < 1e-8
    safe = np.where(small, 1.0, sin)
    wa = np.where(small, 1 - t, np.sin((1 - t) * theta) / safe)
    wb = np.where(small, t, np.sin(t * theta) / safe)
    return normalize(wa * a + wb * b)


def to_6d(q):
    """The first two columns of the rotation matrix, flattened to 6 values (Zhou et al. 2019)."""
    m = to_matrix(q)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def from_6d(d6):
    """Gram–Schmidt back to a rotation, then to quaternions."""
    d6 = np.asarray(d6, dtype=np.float64)
    a, b = d6[..., :3], d6[..., 3:]
    x = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b - np.sum(x * b, axis=-1, keepdims=True) * x
    y = b / np.linalg.norm(b, axis=-1, keepdims=True)
    z = np.cross(x, y)
    return from_matrix(np.stack([x, y, z], axis=-1))
