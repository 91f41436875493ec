"""Reads TensorBoard event files with the tensorboard package's own EventFileLoader (which keeps duplicate
steps, unlike the accumulator) and prints one JSON object: {file: [[tag, step, value], ...]} for every
*tfevents* file under the folder given."""
import json
import os
import sys

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util import tensor_util


def scalars(path):
    out = []
    for event in EventFileLoader(path).Load():
        if event.HasField("file_version"):
            out.append(["file_version", event.step, event.file_version])
            continue
        for v in event.summary.value:
            if v.HasField("tensor"):
                value = float(tensor_util.make_ndarray(v.tensor).item())
            else:
                value = float(v.simple_value)
            out.append([v.tag, event.step, value])
    return out


def main():
    root = sys.argv[1]
    found = {}
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            if "tfevents" in name:
                path = os.path.join(folder, name)
                found[os.path.relpath(path, root)] = scalars(path)
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    main()
