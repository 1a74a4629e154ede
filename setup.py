"""ament_python package chang_e_rover: colcon builds it; pip installs it into .venv."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'chang_e_rover'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(include=[PACKAGE, f'{PACKAGE}.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml']),
        (f'share/{PACKAGE}/launch', glob('launch/*.py')),
        (f'share/{PACKAGE}/config', glob('config/*.yaml')),
        (f'share/{PACKAGE}/urdf', glob('urdf/*.urdf')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='chang_e_rover team',
    maintainer_email='team@chang-e-rover.invalid',
    description='Flight software and simulation for a Yutu-2-like lunar rover and its lander',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'chang-e-rover = chang_e_rover.cli:main',
            'sim = chang_e_rover.sim.sim_node:main',
            'drive_controller = chang_e_rover.drive.controller_node:main',
            'wheel_unit = chang_e_rover.drive.wheel_node:main',
            'science = chang_e_rover.science.science_node:main',
            'hazard_camera = chang_e_rover.hazard.hazard_node:main',
            'relay = chang_e_rover.relay.relay_node:main',
            'space_link = chang_e_rover.relay.link_node:main',
            'lander_camera = chang_e_rover.lander.camera_node:main',
            'lander_sequencer = chang_e_rover.lander.sequencer_node:main',
            'recorder = chang_e_rover.record.recorder_node:main',
            'live = chang_e_rover.live.live_node:main',
            'chang-e-ground = chang_e_rover.relay.ground_cli:main',
        ],
    },
)
