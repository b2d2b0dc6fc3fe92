#!/usr/bin/env bash
# The GPU check of FineFACE-rs, from the folder `cargo xtask gpu-bundle` writes: on a Linux
# machine with an NVIDIA driver, CUDA and PyTorch, but no Rust and no network, it
#   1. finds the driver's libcuda, an NVRTC library and CUDA's headers (the system's, or those
#      in the Python packages PyTorch installed) and says which it uses;
#   2. probes cuda:0 (`fineface devices --probe cuda:0`: a convolution and its gradients
#      against the CPU, and a bucket summed by NCCL over a group of one node where libnccl is
#      found);
#   3. trains `synthface` for 2 epochs on cuda:0;
#   4. trains one epoch of a ResNet-50 FineFACE at 448 px, batch 16, on generated images
#      (images per second, peak GPU memory);
#   5. times one training iteration at 448 px, batch 16, beside the PyTorch reference on the
#      same GPU (`bench iteration`);
# and writes every figure into one JSON, `gpu-check.json` in the output folder.
#
#   ./run.sh [OUT_DIR]          (default: ./results)
#   ./run.sh --find-libraries   (steps 1 only: what would be used, then exit)
#
# Environment: PYTHON (default python3, the one with torch), CUDA_PATH (CUDA's root, if not
# /usr/local/cuda), FINEFACE_GPU_INDEX (default 0), FINEFACE_GPU_BUDGET_S (default 540: the
# steps' time limits are cut from it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
# Tests point this at a fake file system; on a real machine it is empty.
root="${FINEFACE_LIB_ROOT:-}"

say() { echo "run.sh: $*" >&2; }

# The folders a library may be in: ldconfig's cache, LD_LIBRARY_PATH, the usual driver and
# CUDA folders, then the NVIDIA runtime packages of the Python that has PyTorch.
python_nvidia_dirs() {
    command -v "$python" >/dev/null 2>&1 || return 0
    "$python" - <<'EOF' 2>/dev/null || true
import glob, os, site, sys
roots = list(site.getsitepackages()) + [site.getusersitepackages()] + sys.path
seen = set()
for root in roots:
    for d in sorted(glob.glob(os.path.join(root, "nvidia", "*"))):
        if os.path.isdir(d) and d not in seen:
            seen.add(d)
            print(d)
EOF
}

library_dirs() {
    local IFS=:
    for d in ${LD_LIBRARY_PATH:-}; do [ -n "$d" ] && echo "$d"; done
    for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu \
        /usr/lib64 /usr/lib /lib/x86_64-linux-gnu /usr/lib/wsl/lib \
        "${CUDA_PATH:-/usr/local/cuda}/lib64" /usr/local/cuda/lib64 \
        /usr/local/cuda/targets/x86_64-linux/lib /opt/cuda/lib64; do
        echo "$root$d"
    done
    python_nvidia_dirs | while read -r pkg; do echo "$pkg/lib"; done
}

# find_library NAME...: the first file of one of those names in ldconfig's cache or the
# folders above (never a `stubs` folder: its libcuda is a link-time stand-in that cannot run).
find_library() {
    local name dir
    if [ -z "$root" ] && command -v ldconfig >/dev/null 2>&1; then
        for name in "$@"; do
            local hit
            hit="$(ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n {print $NF; exit}')"
            if [ -n "$hit" ] && [ -e "$hit" ]; then echo "$hit"; return 0; fi
        done
    fi
    while read -r dir; do
        case "$dir" in *stubs*) continue ;; esac
        for name in "$@"; do
            if [ -e "$dir/$name" ]; then echo "$dir/$name"; return 0; fi
        done
    done < <(library_dirs)
    return 1
}

# CUDA's headers for NVRTC (CubeCL's kernels include cuda_runtime.h): a folder whose
# include/ has cuda_runtime.h; from split Python packages (one include/ each), a folder of
# links to all of them.
find_cuda_root() {
    local d
    for d in "${CUDA_PATH:-}" "$root/usr/local/cuda" "$root/opt/cuda" "$root/usr"; do
        if [ -n "$d" ] && [ -e "$d/include/cuda_runtime.h" ]; then echo "$d"; return 0; fi
    done
    local packages=()
    mapfile -t packages < <(python_nvidia_dirs)
    for d in "${packages[@]}"; do
        if [ -e "$d/include/cuda_runtime.h" ] && [ -e "$d/include/nvrtc.h" ]; then
            echo "$d"
            return 0
        fi
    done
    local merged="${TMPDIR:-/tmp}/fineface-cuda-headers"
    local found=0
    rm -rf "$merged" && mkdir -p "$merged/include"
    for d in "${packages[@]}"; do
        [ -d "$d/include" ] || continue
        for entry in "$d"/include/*; do
            [ -e "$merged/include/$(basename "$entry")" ] || ln -s "$entry" "$merged/include/"
        done
        found=1
    done
    if [ "$found" = 1 ] && [ -e "$merged/include/cuda_runtime.h" ]; then
        echo "$merged"
        return 0
    fi
    return 1
}

libcuda="$(find_library libcuda.so.1 libcuda.so || true)"
nvrtc="$(find_library libnvrtc.so.13 libnvrtc.so.12 libnvrtc.so || true)"
# Optional: NCCL, the sum between nodes on the GPUs (the probe says what it found).
nccl="$(find_library libnccl.so libnccl.so.2 || true)"
cuda_root="$(find_cuda_root || true)"
say "libcuda: ${libcuda:-not found}"
say "nvrtc: ${nvrtc:-not found}"
say "nccl: ${nccl:-not found (optional: runs over several machines would sum through host memory)}"
say "CUDA headers: ${cuda_root:+$cuda_root/include}${cuda_root:-not found}"
if [ "${1:-}" = "--find-libraries" ]; then
    [ -n "$libcuda" ] && [ -n "$nvrtc" ] && [ -n "$cuda_root" ]
    exit
fi

out="$(mkdir -p "${1:-$here/results}" && cd "${1:-$here/results}" && pwd)"

# The binaries: as built, or unpacked from the bundle's archive.
bin="$here/bin"
if [ ! -x "$bin/fineface" ] && [ -f "$here/bin.tar.gz" ]; then
    bin="${TMPDIR:-/tmp}/fineface-gpu-bin"
    rm -rf "$bin" && mkdir -p "$bin"
    tar -xzf "$here/bin.tar.gz" -C "$bin"
fi
[ -x "$bin/fineface" ] || { say "no fineface binary in $bin or $here/bin.tar.gz"; exit 1; }

# cudarc loads NCCL as libnccl.so, the link only NCCL's development package installs: beside
# a libnccl.so.2 alone (PyTorch's nvidia-nccl wheel, Debian's libnccl2) one is made here.
if [ -n "$nccl" ] && [ "$(basename "$nccl")" != libnccl.so ]; then
    links="${TMPDIR:-/tmp}/fineface-nccl"
    rm -rf "$links" && mkdir -p "$links" && ln -s "$nccl" "$links/libnccl.so"
    nccl="$links/libnccl.so"
fi
# Where the libraries are, for cudarc's dlopen (libcuda, then libnvrtc and libnccl by their
# usual names).
for lib in "$nccl" "$nvrtc" "$libcuda"; do
    [ -n "$lib" ] && export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
[ -n "$cuda_root" ] && export CUDA_PATH="$cuda_root"

if [ -z "$libcuda" ]; then
    # The binary's own probe says the same in its words: its JSON and log go into the results.
    "$bin/fineface" devices --probe "cuda:${FINEFACE_GPU_INDEX:-0}" --json \
        >"$out/probe.json" 2>"$out/probe.log" || true
    say "no CUDA driver: libcuda.so.1 is in none of ldconfig's cache, LD_LIBRARY_PATH, \
/usr/local/nvidia/lib64, /usr/lib/x86_64-linux-gnu or the Python NVIDIA packages; this \
check needs a Linux machine with the NVIDIA driver (the binary's probe: $out/probe.json)"
    exit 1
fi
[ -n "$nvrtc" ] || say "warning: no libnvrtc found; CUDA kernels cannot be compiled"
[ -n "$cuda_root" ] || say "warning: no CUDA headers (cuda_runtime.h) found; set CUDA_PATH"

exec "$python" "$here/gpu_check.py" --bin "$bin" --bundle "$here" --out "$out" \
    --libcuda "$libcuda" --nvrtc "${nvrtc:-}" --cuda-root "${cuda_root:-}"
