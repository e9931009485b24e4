"""Rotation maths, property-based: every Euler order, quaternions, matrices, 6D, slerp."""
import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from motionkit import rotations as rot

ORDERS = ["".join(p) for p in itertools.permutations("XYZ")]
angles = arrays(np.float64, (8, 3), elements=st.floats(-720, 720, allow_nan=False))
quats = arrays(np.float64, (8, 4), elements=st.floats(-1, 1, allow_nan=False)).filter(
    lambda q: np.all(np.linalg.norm(q, axis=-1) > 0.1))


def same_rotation(a, b, tol=1e-9):
    return np.allclose(np.abs(np.sum(rot.normalize(a) * rot.normalize(b), axis=-1)), 1.0, atol=tol)


@settings(max_examples=60, deadline=None)
@given(angles, st.sampled_from(ORDERS))
def test_euler_round_trip_any_order(deg, order):
    q = rot.from_euler(deg, order)
    back = rot.to_euler(q, order)
    assert same_rotation(rot.from_euler(back, order), q)
    assert np.all(np.abs(back) <= 180 + 1e-9)


def test_euler_composes_intrinsically_in_channel_order():
    # R = Rz(90) · Rx(90): applied to +Y, Rx first gives +Z, then Rz leaves +Z.
    q = rot.from_euler([90.0, 90.0], "ZX")
    assert np.allclose(rot.rotate(q, [0, 1, 0]), [0, 0, 1])
    q2 = rot.from_euler([90.0, 90.0], "XZ")  # Rz first: +Y → -X, then Rx keeps -X
    assert np.allclose(rot.rotate(q2, [0, 1, 0]), [-1, 0, 0])


@given(st.sampled_from(ORDERS), st.sampled_from([90.0, -90.0]), st.floats(-170, 170), st.floats(-170, 170))
def test_euler_gimbal_lock(order, mid, a, c):
    q = rot.from_euler([a, mid, c], order)
    assert same_rotation(rot.from_euler(rot.to_euler(q, order), order), q, tol=1e-7)


@settings(max_examples=60, deadline=None)
@given(quats)
def test_matrix_round_trip(q):
    q = rot.normalize(q)
    assert same_rotation(rot.from_matrix(rot.to_matrix(q)), q)
    m = rot.to_matrix(q)
    assert np.allclose(m @ np.swapaxes(m, -1, -2), np.eye(3), atol=1e-12)
    v = np.array([0.3, -1.2, 2.0])
    assert np.allclose(rot.rotate(q, v), m @ v)


@settings(max_examples=60, deadline=None)
@given(quats)
def test_6d_round_trip(q):
    q = rot.normalize(q)
    d6 = rot.to_6d(q)
    assert d6.shape == (8, 6)
    assert same_rotation(rot.from_6d(d6), q)


@given(quats, quats)
def test_multiply_matches_matrices(a, b):
    a, b = rot.normalize(a), rot.normalize(b)
    assert np.allclose(rot.to_matrix(rot.multiply(a, b)), rot.to_matrix(a) @ rot.to_matrix(b), atol=1e-12)


@given(quats, quats)
def test_slerp_endpoints_and_midpoint(a, b):
    a, b = rot.normalize(a), rot.normalize(b)
    assert same_rotation(rot.slerp(a, b, np.zeros(8)), a)
    assert same_rotation(rot.slerp(a, b, np.ones(8)), b)
    mid = rot.slerp(a, b, np.full(8, 0.5))
    # the midpoint is equally far (in angle) from both ends
    da = np.abs(np.sum(mid * a, -1))
    db = np.abs(np.sum(mid * b, -1))
    assert np.allclose(da, db, atol=1e-9)


def test_make_continuous_removes_sign_flips():
    q = rot.from_euler(np.stack([np.linspace(0, 720, 50), np.zeros(50), np.zeros(50)], -1), "ZXY")
    q[1::3] *= -1
    c = rot.make_continuous(q)
    assert np.all(np.sum(c[1:] * c[:-1], -1) > 0)
    assert same_rotation(c, q)
