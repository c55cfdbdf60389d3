#!/bin/bash
# The thirty-first session's GPU run (one `device` call on a lent machine): file to file at
# 1920x1080 with the overlapped stylize stage against the serial one, x264 presets, the command
# line's wall time, and the standard network's compiled variants at batch 16. Run from the
# repository root with a PyAV wheel in .whl/ (the lent machine has torch but no PyAV); writes
# its log and JSON to $OUT. Each step has its own timeout so one slow step cannot take the rest.
. benchmarks/gpu_setup.sh
nvidia-smi -L; nproc; lscpu | grep -m1 'Model name'
python3 -c "import torch, av, cv2, numpy; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), av.__version__, cv2.__version__, numpy.__version__, torch.cuda.get_device_name())"
timeout 90 python3 benchmarks/make_hd_clip.py samples/sample.mp4 /tmp/long.mp4 --loops 10
python3 -c "import pytest" && timeout 60 python3 -m pytest -q -p no:cacheprovider tests/test_pipeline.py -k "submit or device"
timeout 200 python3 benchmarks/gpu_file_to_file.py --clip /tmp/long.mp4 --style contrast_of_forms --backend compile \
    --batch 8 --presets veryfast ultrafast medium --out "$OUT/f2f_standard.json"
S="python3 -m vidstyle stylize /tmp/long.mp4 --device cuda --overwrite --style contrast_of_forms --temporal off"
time timeout 100 $S -o /tmp/cli.mp4 --backend compile --batch 8 --preset veryfast
python3 - "$OUT" <<'PY'
import sys, av
with av.open("/tmp/cli.mp4") as c:
    print([(s.type, s.codec_context.name, s.frames) for s in c.streams])
    for i, f in enumerate(c.decode(video=0)):
        if i == 100:
            f.to_image().resize((640, 360)).save(sys.argv[1] + "/cli_frame100.png")
            break
PY
timeout 120 python3 benchmarks/gpu_variants.py --arch standard --mode default --batches 16
timeout 100 python3 benchmarks/gpu_file_to_file.py --clip /tmp/long.mp4 --style light_contrast_of_forms --backend compile \
    --batch 8 --presets veryfast --out "$OUT/f2f_light.json"
timeout 160 python3 benchmarks/gpu_variants.py --arch standard --mode max-autotune-no-cudagraphs --batches 16
