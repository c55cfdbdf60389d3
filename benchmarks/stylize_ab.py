"""Interleaved A/B rounds of `vidstyle stylize`-equivalent runs: frames/s, busy time per stage, peak RSS.

Each run is a fresh process (so process-wide state such as the allocator settings starts clean)
calling :func:`vidstyle.pipeline.stylize_video` on one clip; the variants run in turn, round after
round, so a slow phase of the machine hits every variant alike. Each run also reports the CPU
time it took per frame, how many cores that kept busy, and that time split by thread group (the
pipeline's stage threads, FFmpeg's decoder threads, and the unnamed rest: x264's workers and the
network's OpenMP workers).
Variants:

* ``default``: what `vidstyle stylize --style STYLE` does;
* ``plain-blend``: the stabilizer's plain blend (``FlowStabilizer(keep_contrast=False)``);
* ``temporal-off``: ``--temporal off``;
* ``malloc-off``: ``VIDSTYLE_KEEP_FREED_MEMORY=0`` (glibc returns freed memory to the OS);
* ``nice-io``: every stage thread but the network's at nice 10 (decode, flow, stabilizer, encode
  and the x264 threads the encoder starts), so that they preempt the network's threads less.
* ``nice-codecs``: as ``nice-io``, and the encoder opened in a thread at nice 10, so that x264's
  worker threads (started when the encoder opens, inheriting their creator's nice value) are
  lowered too; ``nice-io`` left them at the default priority.
* ``idle-codecs``: as ``nice-codecs`` with ``SCHED_IDLE`` instead of nice 10: those threads run
  only on a core nothing else wants.
* ``omp-passive``: ``OMP_WAIT_POLICY=PASSIVE``: the network's OpenMP threads sleep at once when a
  parallel region ends instead of spinning (libgomp spins about 300 000 iterations by default),
  leaving the core to decoding and encoding between the network's operators.
* ``net-1-thread``: the network with one thread (``torch.set_num_threads(1)``) instead of one per
  core, so that it never waits at an OpenMP barrier for a thread the codecs preempted, and leaves
  the other core to decoding and encoding.
* ``x264-1-thread``: the encoder with one thread (libavcodec's ``threads`` option) instead of
  x264's automatic count (frame threads, 1.5 per core, since the twenty-ninth session; slice
  threads, one per core, before it: PyAV's default, see ``configure_encoder``).
* ``x264-slices``: x264 with slice threads (``sliced_threads=1``) instead of frame threads: how
  `vidstyle stylize` encoded before the twenty-ninth session.
* ``blend-2-bands``: the stabilizer's blend in two row bands on two threads at every frame size
  and core count (``vidstyle.flow.stabilizer.blend_bands``, which gives one band below 4 cores).
* ``flow-1-worker``: the flow stage estimating one frame pair at a time, as before the
  thirty-second session, instead of one pair per usable core at once
  (``vidstyle.flow.stabilizer.flow_workers``).
``--options '{"warm": true}'`` builds and warms the network (int8 calibration and compilation
included) before timing, so that only the steady state is measured.

* ``KEY=VALUE``: a ``stylize_video`` keyword on top of ``--options`` (VALUE read as JSON when it
  parses, else as a string), e.g. ``preset=veryfast`` or ``batch=2``.

    .venv/bin/python benchmarks/stylize_ab.py --clip ../shared/data/video/cutbunny.mp4 \\
        --variants default plain-blend malloc-off --rounds 3 --out benchmarks/results/stylize_ab.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.bench.report import script_record, write_json  # noqa: E402

VARIANTS = ("default", "plain-blend", "temporal-off", "malloc-off", "nice-io", "nice-codecs", "idle-codecs",
            "omp-passive", "net-1-thread", "x264-1-thread", "x264-slices",
            "blend-2-bands", "flow-1-worker")

# the child: one stylize_video run, its result as JSON on the last line of stdout
_CHILD = """
import functools, json, sys
from vidstyle.memory import keep_freed_memory
keep_freed_memory()  # as `vidstyle` does at start (a no-op with VIDSTYLE_KEEP_FREED_MEMORY=0)
import vidstyle.flow.stabilizer as stabilizer
from vidstyle.pipeline import stylize_video
clip, out, style, variant = sys.argv[1:5]
if variant == "plain-blend":
    stabilizer.FlowStabilizer.__init__ = functools.partialmethod(stabilizer.FlowStabilizer.__init__,
                                                                 keep_contrast=False)
if variant in ("nice-io", "nice-codecs", "idle-codecs"):
    import os, threading
    import vidstyle.pipeline as pipeline
    start = pipeline._Stages.start

    def lower(tid):
        if variant == "idle-codecs":
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        else:
            os.setpriority(os.PRIO_PROCESS, tid, 10)

    def nice_start(self, stage, fn, *args):
        def run(*a):
            if stage != "stylize":  # everything but the network yields its core to the network
                lower(threading.get_native_id())
            return fn(*a)
        return start(self, stage, run, *args)

    pipeline._Stages.start = nice_start
    if variant != "nice-io":
        # x264 starts its worker threads when the encoder opens, and threads inherit the nice
        # value and policy of the thread that creates them: open it in a lowered thread
        encoder_class = pipeline.VideoEncoder

        def lowered_encoder(*a, **k):
            box = {}
            def build():
                lower(threading.get_native_id())
                try:
                    box["encoder"] = encoder_class(*a, **k)
                except BaseException as exc:
                    box["error"] = exc
            t = threading.Thread(target=build)
            t.start()
            t.join()
            if "error" in box:
                raise box["error"]
            return box["encoder"]

        pipeline.VideoEncoder = lowered_encoder
if variant == "net-1-thread":
    import torch
    torch.set_num_threads(1)
if variant == "x264-1-thread":
    import vidstyle.io.codecs as codecs
    encoder_options = codecs._encoder_options
    codecs._encoder_options = lambda *a: {**encoder_options(*a), "threads": "1"}
if variant == "blend-2-bands":
    import vidstyle.flow.stabilizer as stabilizer_module
    stabilizer_module.blend_bands = lambda height, width, cores=None: 2
if variant == "flow-1-worker":
    import vidstyle.flow.stabilizer as stabilizer_module
    stabilizer_module.flow_workers = lambda cores=None: 1
if variant == "x264-slices":
    import vidstyle.io.encode as encode
    configure_encoder = encode.configure_encoder

    def sliced(stream, *a, **k):
        configure_encoder(stream, *a, **k)
        stream.codec_context.thread_type = "SLICE"
    encode.configure_encoder = sliced
options = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
temporal = options.pop("temporal", "flow")
if options.pop("warm", False):
    # steady state only: build, calibrate (int8) and compile the network first, as the benchmark's
    # pipeline rows do, so one-time costs stay out of the frames/s
    import itertools, av
    import vidstyle.pipeline as pipeline
    config, _ = pipeline._merge_options(None, None, options)
    style = pipeline._make_stylizer(style, config)
    pipeline.calibrate_for(style, clip, config.start, config.duration)
    with av.open(clip) as c:
        first = next(itertools.islice(c.decode(video=0), 1)).to_ndarray(format="rgb24")
    style.stylize_batch([first] * (config.batch or pipeline.default_batch(style, first.shape[:2])))
# CPU time per thread, read from /proc while the threads live (x264's workers end with the
# encoder): a watcher samples every 50 ms, so a thread's last <= 50 ms can be missed
import os, resource, threading, time
def thread_cpu():
    tick, out = os.sysconf("SC_CLK_TCK"), {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(tid)] = (stat[stat.index("(") + 1:stat.rindex(")")], (int(fields[11]) + int(fields[12])) / tick)
    return out
before, seen, names, done = thread_cpu(), {}, {}, threading.Event()  # CPU before the run, per thread
def watch():
    while not done.wait(0.05):
        names.update({t.native_id: t.name for t in threading.enumerate() if t.native_id})
        seen.update(thread_cpu())
watcher = threading.Thread(target=watch, daemon=True)
watcher.start()
usage0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
r = stylize_video(clip, out, style=style, overwrite=True, progress=False,
                  temporal="off" if variant == "temporal-off" else temporal, **options)
wall, usage1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
done.set(); watcher.join()
cpu = usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime
groups = {}
for tid, (comm, seconds) in seen.items():
    if tid == watcher.native_id:
        continue
    if tid in names:  # a Python thread: vidstyle's stages, the main thread
        group = names[tid]
    elif comm.startswith("av:"):  # FFmpeg names its decoder threads (av:h264:df0, ...)
        group = "decoder threads"
    else:
        # unnamed: x264's workers, the network's OpenMP workers (libgomp gives each calling
        # thread its own team, so the stage thread's second network thread starts during the run
        # too) and swscale's short-lived slice threads (PyAV's conversions default to threads=auto;
        # the sampler misses most of them); with `net-1-thread` there is no OpenMP worker
        group = "x264 + OpenMP workers"
    groups[group] = groups.get(group, 0.0) + seconds - before.get(tid, ("", 0.0))[1]
print(json.dumps({"fps": r.fps, "frames": r.frames, "network": r.network,
                  "busy_ms_per_frame": {k: 1000 * v / r.frames for k, v in r.stage_seconds.items()},
                  "cpu_ms_per_frame": 1000 * cpu / r.frames, "cores_busy": cpu / wall,
                  "thread_cpu_ms_per_frame": {k: round(1000 * v / r.frames, 2)
                                              for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}}))
"""


def _variant(text: str) -> str:
    if text not in VARIANTS and "=" not in text:
        raise argparse.ArgumentTypeError(f"unknown variant {text!r}: one of {', '.join(VARIANTS)} or KEY=VALUE")
    return text


def _with_setting(options: str, variant: str) -> str:
    """``options`` (JSON) plus the variant's KEY=VALUE, if it is one."""
    if "=" not in variant:
        return options
    key, value = variant.split("=", 1)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return json.dumps({**json.loads(options), key: parsed})


def run_once(clip: str, style: str, variant: str, out: Path, options: str = "{}") -> dict:
    options = _with_setting(options, variant)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if variant == "malloc-off":
        env["VIDSTYLE_KEEP_FREED_MEMORY"] = "0"
    if variant == "omp-passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, clip, str(out), style, variant, options], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{variant}: the run failed (exit {proc.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clip", required=True)
    p.add_argument("--style", default="light_starry_night")
    p.add_argument("--variants", nargs="+", type=_variant, default=list(VARIANTS),
                   help=f"any of {', '.join(VARIANTS)} or KEY=VALUE")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--options", default="{}",
                   help='stylize_video keywords for every variant, as JSON, e.g. \'{"precision": "int8"}\'')
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/stylize_ab.json")
    args = p.parse_args(argv)
    runs: dict[str, list[dict]] = {v: [] for v in args.variants}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for v in args.variants:
                res = run_once(args.clip, args.style, v, Path(tmp) / "out.mp4", args.options)
                runs[v].append(res)
                busy = ", ".join(f"{k} {ms:.1f}" for k, ms in res["busy_ms_per_frame"].items())
                threads = ", ".join(f"{k} {ms:.1f}" for k, ms in res["thread_cpu_ms_per_frame"].items() if ms >= 0.5)
                print(f"round {r + 1} {v:13s} {res['fps']:5.1f} frames/s  peak RSS {res['peak_rss_mib']:.0f} MiB  "
                      f"busy ms/frame: {busy}\n    CPU {res['cpu_ms_per_frame']:.1f} ms/frame on "
                      f"{res['cores_busy']:.2f} cores; by thread: {threads}", flush=True)
    summary = {v: {"fps": [round(x["fps"], 2) for x in rs],
                   "fps_median": round(statistics.median(x["fps"] for x in rs), 2),
                   "peak_rss_mib_median": round(statistics.median(x["peak_rss_mib"] for x in rs)),
                   "cpu_ms_per_frame_median": round(statistics.median(x["cpu_ms_per_frame"] for x in rs), 2),
                   "cores_busy_median": round(statistics.median(x["cores_busy"] for x in rs), 2),
                   "network": rs[0]["network"]} for v, rs in runs.items()}
    for v, s in summary.items():
        print(f"{v:13s} median {s['fps_median']:.1f} frames/s ({s['fps']}), peak RSS {s['peak_rss_mib_median']} MiB, "
              f"CPU {s['cpu_ms_per_frame_median']:.1f} ms/frame on {s['cores_busy_median']:.2f} cores")
    write_json(args.out, script_record(clip=args.clip, style=args.style, summary=summary, runs=runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
