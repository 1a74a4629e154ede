"""Shared ROS plumbing: parameters from config/, QoS profiles, message helpers.

The only module outside *_node.py files that imports rclpy. Pure modules never
import this.
"""
from __future__ import annotations

import array
from typing import Any

from builtin_interfaces.msg import Time
import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, qos_profile_sensor_data,
                       ReliabilityPolicy)

from chang_e_rover import config

SENSOR_QOS = qos_profile_sensor_data          # images, IMU: newest wins, best effort
STATE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                       history=HistoryPolicy.KEEP_LAST)
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
# /diagnostics as read by a node that must hear every report (the simulator the hazard
# pipeline's answers): every node reports there, and a burst must not push a report out
# of a shallow history before it is read.
DIAGNOSTICS_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                             history=HistoryPolicy.KEEP_LAST)

# What the simulator publishes for the sensors: reliable (it matches best-effort readers as
# well), so that in lock-step a flight node in the loop that reads reliably misses nothing.
SIM_SENSOR_QOS = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE,
                            history=HistoryPolicy.KEEP_LAST)


def kept(qos: QoSProfile) -> QoSProfile:
    """qos, with the writer keeping its last depth samples for a reader that matches late
    (transient local). A volatile reader still matches such a writer."""
    return QoSProfile(depth=qos.depth, reliability=qos.reliability, history=qos.history,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def loop_input_qos(qos: QoSProfile, sim: bool) -> QoSProfile:
    """A flight node's subscription to an input its lock-step waits for by stamp (a motor
    reading and temperature, the IMU sample, the joint states, a wheel unit's status): in
    simulation kept (its writer keeps it too), so a sample sent before the subscription
    matched, as at the start of a run in one process per node, still comes and the node
    does not wait for it for ever; on hardware as qos, which matches any driver."""
    return kept(qos) if sim else qos


def sensor_qos(sim: bool) -> QoSProfile:
    """A flight node's sensor subscription: best effort on hardware (matches any driver), reliable
    in simulation (a lost frame or IMU sample would change what the loop computed)."""
    return SIM_SENSOR_QOS if sim else SENSOR_QOS


# Motor commands and readings close the lock-step loop with the simulator: none may drop.
CONTROL_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE,
                         history=HistoryPolicy.KEEP_LAST)

# The controller's wheel setpoints: as CONTROL_QOS, and kept by the writer for a reader that
# matches late, so a setpoint sent before a unit's subscription matched still reaches it (in
# lock-step the unit waits for it; on hardware a restarted unit hears the last one at once).
SETPOINT_QOS = kept(CONTROL_QOS)
# A lock-step answer between flight nodes (the hazard pipeline's to the drive controller),
# and the outputs it names that are not latched (visual_odom): the same, for the same
# reason: the reader waits for them and may have matched late.
ANSWER_QOS = SETPOINT_QOS


def declare_from_config(node: Node, file_name: str, config_node: str,
                        dynamic: tuple[str, ...] = ()) -> dict[str, Any]:
    """Declare every parameter of config/file_name's config_node section; return the values.

    The YAML file is the one source of defaults: ros2 launch passes the same file.
    Parameters not listed in dynamic are read-only once the node runs.
    """
    values = {}
    for name, default in config.load_params(file_name, config_node).items():
        read_only = not any(name == d or name.startswith(d + '.') for d in dynamic)
        descriptor = ParameterDescriptor(read_only=read_only,
                                         description=f'from config/{file_name}')
        values[name] = node.declare_parameter(name, default, descriptor).value
    return values


def spin_node(node: Node) -> None:
    """Spin one node until Ctrl-C or shutdown, then destroy it and shut rclpy down."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from chang_e_rover.runner import make_executor
    executor = make_executor()
    executor.add_node(node)
    try:
        while rclpy.ok():          # spin_once rounds: EventsExecutor.spin() hangs here
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def image_array(msg) -> np.ndarray:
    """A sensor_msgs/Image (rgb8 or bgr8, any row padding) as an RGB uint8 array."""
    if msg.encoding not in ('rgb8', 'bgr8'):
        raise ValueError(f'image encoding {msg.encoding!r}; rgb8 or bgr8 expected')
    if msg.step < msg.width * 3 or len(msg.data) < msg.step * msg.height:
        raise ValueError(f'image of {len(msg.data)} bytes is short for {msg.width} x '
                         f'{msg.height} with step {msg.step}')
    img = np.frombuffer(bytes(msg.data), np.uint8)[:msg.step * msg.height]
    img = img.reshape(msg.height, msg.step)[:, :msg.width * 3].reshape(msg.height, msg.width, 3)
    return img if msg.encoding == 'rgb8' else img[:, :, ::-1]


def rgb_image(img: np.ndarray, frame_id: str, stamp) -> 'Image':
    """An H x W x 3 uint8 RGB array as a sensor_msgs/Image (rgb8, no row padding).

    The pixels go in as an array.array, which the message takes as it is; bytes would
    be copied element by element (a 1024 x 1024 frame: 25 ms instead of 5).
    """
    from sensor_msgs.msg import Image
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f'an H x W x 3 uint8 image expected, got {img.shape} {img.dtype}')
    data = array.array('B')
    data.frombytes(np.ascontiguousarray(img).tobytes())
    msg = Image(height=img.shape[0], width=img.shape[1], encoding='rgb8', is_bigendian=0,
                step=img.shape[1] * 3, data=data)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def log_outcome(logger, ok: bool, text: str) -> None:
    """Log text as info when ok, else as a warning. rclpy's loggers refuse a call site
    whose severity changes between calls, so the two severities have a line each here."""
    if ok:
        logger.info(text)
    else:
        logger.warning(text)


def odom_tf_broadcaster(node: Node):
    """A function that sends an Odometry's pose on /tf (odom -> base_link), as ROS users
    expect beside robot_state_publisher's link frames; None when tf2_msgs is not installed
    (the pip wheels do not have it: the live view then sends frames through Foxglove's own
    schema, docs/live.md)."""
    try:
        from geometry_msgs.msg import TransformStamped
        from tf2_msgs.msg import TFMessage
    except ImportError:
        return None
    pub = node.create_publisher(TFMessage, '/tf', 100)

    def send(odom) -> None:
        t = TransformStamped(header=odom.header, child_frame_id=odom.child_frame_id)
        p = odom.pose.pose.position
        t.transform.translation.x, t.transform.translation.y = p.x, p.y
        t.transform.translation.z = p.z
        t.transform.rotation = odom.pose.pose.orientation
        pub.publish(TFMessage(transforms=[t]))
    return send


def stamp_to_ns(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


# rover/odom's roll and pitch variances in its pose covariance (row-major 6 x 6 over x, y,
# z, roll, pitch, yaw): -1, ROS's "no estimate", while the drive's attitude is not yet
# estimated (drive/controller.py DriveCore.aligning).
ROLL_VAR, PITCH_VAR = 21, 28


def attitude_known(odom) -> bool:
    """Whether a nav_msgs/Odometry carries an estimated roll and pitch."""
    c = odom.pose.covariance
    return c[ROLL_VAR] >= 0.0 and c[PITCH_VAR] >= 0.0
