#!/usr/bin/env bash
# Builds hspsam against pip-installed torch versions (HSPSAM_TORCH_PYTHON) and runs a short train and predict on
# CPU with each: the check behind the supported-versions line of docs/distributed.md. Not part of CI (each
# version is a 500+ MB wheel and a full build).
#   bash scripts/check-torch-versions.sh 2.15.0 [VERSION...]     (default: the oldest and newest supported)
# Each version gets a virtual environment under ${HSPSAM_CACHE:-~/.cache/hspsam}/torch-venvs/ with torch installed
# as pip installs it (a CUDA build and its NVIDIA libraries, several GB; an existing venv with that torch version
# is reused), and a clone of this checkout's HEAD under a temporary folder, so the working tree's own build is
# left alone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${HSPSAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hspsam}"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(2.15.0)
work=$(mktemp -d /tmp/hspsam-torch-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
for version in "${versions[@]}"; do
  echo "== torch $version"
  venv="$cache/torch-venvs/$version"
  if [ ! -x "$venv/bin/python" ] \
     || ! "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('torch').split('+')[0] == '$version'" 2>/dev/null; then
    python3 -m venv "$venv"
    wheel=$(ls "$cache/downloads/torch-$version-"*.whl 2>/dev/null | head -n1 || true)
    "$venv/bin/pip" install -q "${wheel:-torch==$version}"  # with its CUDA libraries, as a GPU machine has it
  fi
  clone="$work/hspsam-$version"
  git clone -q "$root" "$clone"
  if ! (cd "$clone" && HSPSAM_TORCH_PYTHON="$venv/bin/python" bash scripts/setup.sh && swift build -c release 2>&1 | tail -n 3); then
    echo "torch $version: set-up or build failed"; status=1; continue
  fi
  bin="$clone/.build/release/hspsam"
  if "$bin" train --data "$clone/samples" --val-fraction 0 --max-steps 2 --out "$work/run-$version" \
     && "$bin" predict --checkpoint "$work/run-$version" "$clone/samples/images" --output "$work/masks-$version" \
     && [ -f "$work/masks-$version/synthetic_polyp.png" ]; then
    echo "torch $version: build, train and predict passed"
  else
    echo "torch $version: train or predict failed"; status=1
  fi
done
exit $status
