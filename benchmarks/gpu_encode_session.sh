#!/bin/bash
# The thirty-first session's second GPU run: where the encode stage's time goes at 1080p on the
# lent machine's 16 cores (benchmarks/encode_stage_cost.py on stylized frames), after the first run
# (gpu_overlap_session.sh) found the encode stage setting the file-to-file pace. Writes to $OUT.
. benchmarks/gpu_setup.sh
nvidia-smi -L; nproc; lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Socket|MHz' | head -8
timeout 60 python3 benchmarks/make_hd_clip.py samples/sample.mp4 /tmp/clip.mp4 --loops 2
timeout 60 python3 -m vidstyle stylize /tmp/clip.mp4 -o /tmp/styled.mp4 --device cuda --style contrast_of_forms \
    --temporal off --batch 8 --crf 12 --preset ultrafast --no-audio
timeout 150 python3 benchmarks/encode_stage_cost.py --clip /tmp/styled.mp4 --frames 180 \
    --presets ultrafast superfast veryfast medium --out "$OUT/encode_stage_cost.json"
