#!/usr/bin/env python3
"""Steps 2-5 of the GPU check (`run.sh` finds the libraries, then runs this): the device probe,
a 2-epoch SynthFace run, one epoch of a ResNet-50 FineFACE at 448 px batch 16 on generated
images, and `bench iteration` at 448 px batch 16 beside the PyTorch reference on the same GPU.

Every figure goes into `<out>/gpu-check.json`, rewritten after each step, so a step that
fails or runs out of time leaves the others' figures (and its own error) behind. Each step
runs with a time limit cut from FINEFACE_GPU_BUDGET_S (default 540 s). Peak GPU memory is
the largest `used_memory` nvidia-smi reports for the step's process (its CUDA context
included), polled every 0.1 s: the same measure for ours and for PyTorch.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

# The paper's FairFace run (FINEFACE.md): 86,744 training images, 25 epochs.
FAIRFACE_TRAIN_IMAGES = 86_744
PAPER_EPOCHS = 25


class GpuMemory:
    """Polls nvidia-smi for the GPU memory of one process (and its children) while it runs."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_mib = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _pids(self) -> set[int]:
        pids = {self.pid}
        try:
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.pid)],
                                 capture_output=True, text=True, timeout=5).stdout
            pids |= {int(p) for p in out.split()}
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
        return pids

    def _poll(self):
        smi = shutil.which("nvidia-smi")
        if smi is None:
            return
        while not self._stop.is_set():
            try:
                out = subprocess.run(
                    [smi, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                    capture_output=True, text=True, timeout=5).stdout
                pids = self._pids()
                used = sum(int(m) for p, m in (line.split(", ") for line in out.splitlines() if ", " in line)
                           if int(p) in pids and m.strip().isdigit())
                if used and (self.peak_mib is None or used > self.peak_mib):
                    self.peak_mib = used
            except (OSError, subprocess.SubprocessError, ValueError):
                pass
            self._stop.wait(0.1)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)
        return self.peak_mib


def run_step(cmd, timeout_s, cwd=None, env=None, log=None):
    """Runs `cmd` with a time limit; returns (returncode or None if timed out, stdout, seconds, peak MiB)."""
    started = time.perf_counter()
    stderr = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=stderr, text=True)
    memory = GpuMemory(proc.pid)
    try:
        stdout, _ = proc.communicate(timeout=timeout_s)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, _ = proc.communicate()
        code = None
    peak = memory.stop()
    if log:
        stderr.close()
    return code, stdout, time.perf_counter() - started, peak


def tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def read_run(run_dir: Path) -> dict:
    """The figures of a run folder: per-epoch metrics.csv rows and the test summary."""
    figures = {}
    metrics = run_dir / "metrics.csv"
    if metrics.is_file():
        with metrics.open() as f:
            rows = list(csv.DictReader(f))
        figures["epochs"] = [
            {k: float(v) for k, v in row.items()
             if k in ("epoch", "seconds", "train_seconds", "train_images_per_second",
                      "train_accuracy", "val_accuracy", "val_worst_group_accuracy", "val_dob")
             and v not in ("", None)}
            for row in rows
        ]
    summary = run_dir / "test" / "summary.json"
    if summary.is_file():
        figures["test"] = json.loads(summary.read_text())
    return figures


class Check:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.deadline = time.monotonic() + float(os.environ.get("FINEFACE_GPU_BUDGET_S", "540"))
        self.gpu = os.environ.get("FINEFACE_GPU_INDEX", "0")
        self.device = f"cuda:{self.gpu}"
        self.result = {
            "bundle": self.read_bundle_info(),
            "machine": self.machine(),
            "libraries": {"libcuda": args.libcuda, "nvrtc": args.nvrtc or None,
                          "cuda_headers": (args.cuda_root + "/include") if args.cuda_root else None,
                          "LD_LIBRARY_PATH": os.environ.get("LD_LIBRARY_PATH", "")},
            "steps": {},
        }

    def read_bundle_info(self):
        info = Path(self.args.bundle) / "bundle.json"
        return json.loads(info.read_text()) if info.is_file() else None

    def machine(self):
        smi = shutil.which("nvidia-smi")
        gpu = None
        if smi:
            out = subprocess.run([smi, "--query-gpu=name,memory.total,driver_version",
                                  "--format=csv,noheader"], capture_output=True, text=True).stdout
            gpu = [line.strip() for line in out.splitlines() if line.strip()]
        torch_version = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__, torch.version.cuda)"],
                                       capture_output=True, text=True).stdout.strip() or None
        return {"host": platform.node(), "cpus": os.cpu_count(), "gpus": gpu, "torch": torch_version}

    def save(self):
        path = self.out / "gpu-check.json"
        path.write_text(json.dumps(self.result, indent=2) + "\n")

    def limit(self, wanted):
        return max(5.0, min(wanted, self.deadline - time.monotonic()))

    def step(self, name, fn):
        print(f"gpu_check: {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            figures = fn()
        except Exception as error:  # noqa: BLE001 - every failure is a figure of the report
            figures = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        figures.setdefault("ok", True)
        figures["seconds"] = round(time.perf_counter() - started, 2)
        self.result["steps"][name] = figures
        self.save()
        print(f"gpu_check: {name}: {json.dumps(figures)[:600]}", file=sys.stderr, flush=True)
        return figures

    def fineface(self, *args):
        return [Path(self.args.bin) / "fineface", *args]

    def probe(self):
        code, stdout, _, _ = run_step(self.fineface("devices", "--probe", self.device, "--json"),
                                      self.limit(120), log=self.out / "probe.log")
        figures = json.loads(stdout) if stdout.strip() else {}
        figures["ok"] = code == 0
        if code != 0:
            figures["error"] = tail(self.out / "probe.log")
        return figures

    def train(self, name, experiment, extra, wanted_s):
        run_dir = self.out / name
        shutil.rmtree(run_dir, ignore_errors=True)
        log = self.out / f"{name}.log"
        cmd = self.fineface("train", experiment, "--device", self.device, "--out", run_dir,
                            "--configs", Path(self.args.bundle) / "configs", "--quiet",
                            "--progress-every", "10", *extra)
        code, _, seconds, peak = run_step(cmd, self.limit(wanted_s), cwd=self.out, log=log)
        figures = read_run(run_dir)
        figures.update({"ok": code == 0, "wall_s": round(seconds, 1), "peak_gpu_mib": peak,
                        "command": " ".join(str(c) for c in cmd)})
        if code != 0:
            figures["error"] = "timed out" if code is None else f"exit {code}"
            figures["log_tail"] = tail(log)
        return figures

    def bench(self, rounds=3, iters=5, wanted_s=200):
        shape = ["--case", "iteration", "--backbone", "resnet50", "--image-size", "448",
                 "--batch", "16", "--iters", str(iters), "--warmup", "2"]
        ours_cmd = [Path(self.args.bin) / "bench_fineface", *shape, "--device", self.device]
        reference_cmd = [sys.executable, Path(self.args.bundle) / "reference" / "bench_fineface_torch.py",
                         *shape, "--device", self.device, "--crops", "loop"]
        sides = {"ours": {"times_s": [], "peak_gpu_mib": []},
                 "reference": {"times_s": [], "peak_gpu_mib": []}}
        for k in range(rounds):
            # Alternating, so that clock and thermal drift reach both sides alike.
            for side, cmd in (("ours", ours_cmd), ("reference", reference_cmd)):
                log = self.out / f"bench-{side}-{k}.log"
                code, stdout, _, peak = run_step(cmd, self.limit(wanted_s / 2), log=log)
                if code != 0:
                    raise RuntimeError(f"{side} round {k}: {'timed out' if code is None else f'exit {code}'}: {tail(log, 8)}")
                times = json.loads(stdout.strip().splitlines()[-1])["times_s"]
                sides[side]["times_s"].append(statistics.median(times))
                sides[side]["peak_gpu_mib"].append(peak)
        ours = statistics.median(sides["ours"]["times_s"])
        reference = statistics.median(sides["reference"]["times_s"])
        return {"shape": "resnet50 (width 64, heads 1024), batch 16, 448 px, " + self.device,
                "rounds": rounds, "iters_per_process": iters, "ours_s": ours, "reference_s": reference,
                "ratio_reference_over_ours": reference / ours, "sides": sides}

    def projection(self):
        epoch = self.result["steps"].get("resnet50_448", {}).get("epochs") or []
        rate = epoch[0].get("train_images_per_second") if epoch else None
        if not rate:
            return {"ok": False, "error": "no measured images per second at 448 px"}
        hours = FAIRFACE_TRAIN_IMAGES * PAPER_EPOCHS / rate / 3600
        return {"train_images_per_second": rate, "fairface_train_images": FAIRFACE_TRAIN_IMAGES,
                "epochs": PAPER_EPOCHS, "hours_training": round(hours, 2),
                "note": "training iterations only, at the rate of the ResNet-50 448 px epoch; "
                        "validation and test passes come on top"}

    def run(self):
        self.save()
        if not self.step("probe", self.probe)["ok"]:
            return 1
        self.step("synthface_2_epochs", lambda: self.train("synthface", "synthface", ["--epochs", "2"], 150))
        self.step("resnet50_448", lambda: self.train("resnet50_448", "gpu-resnet50", ["--no-weights"], 200))
        self.step("bench_iteration", self.bench)
        self.step("projection", self.projection)
        failed = [name for name, step in self.result["steps"].items() if not step.get("ok")]
        self.result["failed_steps"] = failed
        self.save()
        print(f"gpu_check: wrote {self.out / 'gpu-check.json'}", file=sys.stderr)
        return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True, help="folder of fineface and bench_fineface")
    ap.add_argument("--bundle", required=True, help="the bundle folder (configs/, reference/)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--libcuda", default="")
    ap.add_argument("--nvrtc", default="")
    ap.add_argument("--cuda-root", default="")
    args = ap.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    sys.exit(Check(args).run())


if __name__ == "__main__":
    main()
