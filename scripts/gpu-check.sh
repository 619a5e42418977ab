#!/usr/bin/env bash
# Prepares gpu-check/ (ignored): a folder that checks hspsam on a Linux x86-64 machine with an NVIDIA GPU and a
# pip-installed CUDA torch, but no Swift toolchain and no network. It holds the release binary built against
# that torch version (default 2.11.0) with the Swift runtime linked in statically, the Debian image codec
# libraries the binary needs, and scripts that make a synthetic training set there (numpy + Pillow) and run:
# the device, a forward on CUDA against the CPU, a few hundred training steps on CUDA with the loss going down,
# a training step and a prediction timed at batch 1 and 16, all written to a results folder. Base weights are
# not needed: the checks run on seeded random base weights (--base-checkpoint random).
#   bash scripts/gpu-check.sh [TORCH_VERSION]        then, on the GPU machine:  bash gpu-check/run.sh RESULTS_DIR
# Test it here on CPU in a clean environment: env -i PATH=/usr/bin:/bin HOME=$HOME bash gpu-check/run.sh /tmp/r --cpu
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${HSPSAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hspsam}"
version="${1:-2.11.0}"
venv="$cache/torch-venvs/$version"
out="$root/gpu-check"
if [ ! -x "$venv/bin/python" ] \
   || ! "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('torch').split('+')[0] == '$version'" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "torch==$version"
fi
work=$(mktemp -d /tmp/hspsam-gpu-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/hspsam"
(cd "$work/hspsam" && HSPSAM_TORCH_PYTHON="$venv/bin/python" bash scripts/setup.sh >/dev/null \
  && swift build -c release --static-swift-stdlib --product hspsam 2>&1 | tail -n 5)
binary="$work/hspsam/.build/release/hspsam"
rm -rf "$out"
mkdir -p "$out/lib"
# The libraries the binary needs beyond glibc, libstdc++ and libtorch's own (the GPU machine's torch has those).
ldd "$binary" | awk '/=> \// {print $3}' | while read -r library; do
  case "$(basename "$library")" in
    libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|libstdc++.so*|libgcc_s.so*|ld-linux*) ;;
    libtorch*|libc10*|libgomp*|libcudart*|libcupti*|libnvperf*) ;;
    *) cp -L "$library" "$out/lib/" ;;
  esac
done
xz -T0 -9 -c "$binary" > "$out/hspsam.xz"
cp "$root/scripts/gpu-check/run.sh" "$root/scripts/gpu-check/make_data.py" "$out/"
echo "$version" > "$out/TORCH_VERSION"
du -sh "$out"
echo "gpu-check/ ready ($(du -sb "$out" | cut -f1) bytes); with the tracked files: $(( $(du -sb "$out" | cut -f1) + $(git -C "$root" ls-files -z | xargs -0 du -cb | tail -n1 | cut -f1) )) bytes"
