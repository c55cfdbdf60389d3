#!/bin/bash
# One GPU measurement run, as run through the `device` tool on a lent machine (twenty-ninth
# session: an H200). Run from the repository root; writes its log (and run_gpu.py's report) to
# $OUT. The lent machine has torch but no PyAV: a PyAV wheel downloaded beforehand (pip download
# av==18.1.0 -d .whl) is installed into /tmp/site. Each step has its own timeout so that one slow
# step cannot take the whole device time.
. benchmarks/gpu_setup.sh
nvidia-smi -L; nproc
python3 -c "import torch, av, cv2, numpy; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), av.__version__, cv2.__version__, numpy.__version__, torch.cuda.get_device_name())"
python3 - <<'PY'
import av, fractions
for name in ("h264_nvenc", "hevc_nvenc"):
    try:
        c = av.CodecContext.create(name, "w"); c.width, c.height, c.pix_fmt = 256, 144, "yuv420p"
        c.time_base = fractions.Fraction(1, 24); c.open(); print(name, "opens")
    except Exception as e:
        print(name, "fails:", e)
PY
timeout 60 python3 benchmarks/make_hd_clip.py samples/sample.mp4 /tmp/clip.mp4 --loops 3
timeout 120 python3 benchmarks/gpu_variants.py --arch standard --mode eager
timeout 60 python3 benchmarks/gpu_variants.py --arch light --mode eager
S="python3 -m vidstyle stylize /tmp/clip.mp4 --device cuda --overwrite"
timeout 60 $S -o /tmp/o1.mp4 --style contrast_of_forms --temporal off
timeout 60 $S -o /tmp/o2.mp4 --style contrast_of_forms --temporal off --batch 8
timeout 60 $S -o /tmp/o3.mp4 --style contrast_of_forms --temporal off --batch 8 --codec h264_nvenc
timeout 60 $S -o /tmp/o4.mp4 --style contrast_of_forms --batch 8 --codec h264_nvenc
timeout 60 $S -o /tmp/o5.mp4 --style light_contrast_of_forms --temporal off --batch 8 --codec h264_nvenc
timeout 150 python3 benchmarks/gpu_variants.py --arch standard --mode default
timeout 100 python3 benchmarks/run_gpu.py --quick --no-compile --clip /tmp/clip.mp4 --out /tmp/gpub
cp /tmp/gpub/bench.md /tmp/gpub/bench.json "$OUT/" 2>/dev/null
timeout 100 python3 benchmarks/gpu_variants.py --arch standard --mode max-autotune-no-cudagraphs
