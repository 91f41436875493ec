# The one place that pins the tested LibTorch (PyPI torch wheel) version.
NETADJ_TORCH_VERSION=2.11.0
# Oldest CMake that torch's CMake files accept; older ones get cmake from PyPI.
NETADJ_MIN_CMAKE=3.25
