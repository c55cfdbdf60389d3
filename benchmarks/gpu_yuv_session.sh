#!/bin/bash
# The thirty-first session's third GPU run: file to file at 1920x1080 after the frames going to
# the encoder are converted to yuv420p on the GPU ("overlapped") against the same run handing RGB
# to the encoder ("rgb"), at four x264 presets, and the command line's wall time. Writes to $OUT.
. benchmarks/gpu_setup.sh
nvidia-smi -L; nproc
timeout 60 python3 benchmarks/make_hd_clip.py samples/sample.mp4 /tmp/long.mp4 --loops 6
timeout 60 python3 -m pytest -q -p no:cacheprovider tests/test_pipeline.py -k "cuda or yuv420 or device"
timeout 150 python3 benchmarks/gpu_file_to_file.py --clip /tmp/long.mp4 --style contrast_of_forms --backend compile \
    --batch 8 --presets superfast veryfast ultrafast medium --modes overlapped rgb --out "$OUT/f2f_yuv_standard.json"
time timeout 60 python3 -m vidstyle stylize /tmp/long.mp4 -o /tmp/cli.mp4 --device cuda --overwrite \
    --style contrast_of_forms --temporal off --backend compile --batch 8 --preset superfast
python3 - "$OUT" <<'PY'
import sys, av
with av.open("/tmp/cli.mp4") as c:
    print([(s.type, s.codec_context.name, s.frames) for s in c.streams])
    for i, f in enumerate(c.decode(video=0)):
        if i == 100:
            f.to_image().resize((640, 360)).save(sys.argv[1] + "/cli_superfast_frame100.png")
            break
PY
timeout 60 python3 benchmarks/gpu_file_to_file.py --clip /tmp/long.mp4 --style light_contrast_of_forms --backend compile \
    --batch 8 --presets superfast --modes overlapped --out "$OUT/f2f_yuv_light.json"
