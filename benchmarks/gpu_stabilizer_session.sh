#!/bin/bash
# Prepared in the thirty-second session (no GPU was lent then) for the next GPU run: `vidstyle
# stylize` with the flow stabilizer (its default) at 1920x1080, the blend on the GPU
# ("overlapped") against the blend on the CPU as before ("rgb"), at two x264 presets; the
# stabilizer's halves timed on the GPU machine (the flow with 1-16 pairs at once, apply_tensor on
# CUDA); and the default command's wall time. Writes to $OUT. Run it as the other gpu_*_session.sh
# (carry .whl, the PyAV wheel).
. benchmarks/gpu_setup.sh
nvidia-smi -L; nproc
timeout 60 python3 benchmarks/make_hd_clip.py samples/sample.mp4 /tmp/long.mp4 --loops 6
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/test_pipeline.py tests/test_stabilizer.py \
    -k "cuda or stabiliz or device or tensor or flow_stage"
timeout 90 python3 benchmarks/stabilizer_cost.py --clip /tmp/long.mp4 --sizes 1920x1080 --flow-workers 1 4 8 16 \
    --device cuda --out "$OUT/stabilizer_cost_gpu.json"
timeout 200 python3 benchmarks/gpu_file_to_file.py --clip /tmp/long.mp4 --style contrast_of_forms --backend compile \
    --batch 8 --temporal flow --presets ultrafast medium --modes overlapped rgb --out "$OUT/f2f_stabilizer_standard.json"
time timeout 90 python3 -m vidstyle stylize /tmp/long.mp4 -o /tmp/cli.mp4 --device cuda --overwrite \
    --style contrast_of_forms
python3 - "$OUT" <<'PY'
import sys, av
with av.open("/tmp/cli.mp4") as c:
    print([(s.type, s.codec_context.name, s.frames) for s in c.streams])
    for i, f in enumerate(c.decode(video=0)):
        if i in (100, 101):
            f.to_image().resize((640, 360)).save(f"{sys.argv[1]}/cli_default_frame{i}.png")
        if i == 101:
            break
PY
