# The one place that pins the tested LibTorch (PyPI torch wheel) version.
NETADJ_TORCH_VERSION=2.11.0
# torchvision for the import tests (the release paired with that torch; it brings numpy and pillow).
NETADJ_TORCHVISION_VERSION=0.26.0
# tensorboard for the tests that read netadj's event files with TensorBoard's own loader.
NETADJ_TENSORBOARD_VERSION=2.20.0
# onnxruntime for the tests that run netadj's ONNX exports.
NETADJ_ONNXRUNTIME_VERSION=1.23.2
# Oldest CMake that torch's CMake files accept; older ones get cmake from PyPI.
NETADJ_MIN_CMAKE=3.25
# lizard (PyPI) measures function length for scripts/lint.sh.
NETADJ_LIZARD_VERSION=1.24.3
# clang-format major version for scripts/lint.sh (its output differs between versions).
NETADJ_CLANG_FORMAT_MAJOR=14
