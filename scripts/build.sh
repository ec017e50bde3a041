#!/bin/sh
# Configures (once) and builds swarmnode into ./build with warnings as errors.
set -eu
cd "$(dirname "$0")/.."
if [ -f build/build.ninja ]; then
	meson setup --reconfigure build >/dev/null
else
	meson setup build
fi
ninja -C build
