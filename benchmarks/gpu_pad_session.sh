#!/bin/bash
# Prepared in the thirty-second session (no GPU was lent then) for the next GPU run: the standard
# network at 1920x1080, network only, with its 3-channel stem input and 12-channel head output
# widened with zeros to multiples of 8 (gpu_variants.py --pad-channels) against as it is, eager
# fp16 and compiled (max-autotune-no-cudagraphs, batch 8: the 290.9 frames/s of the twenty-ninth
# session). Writes to $OUT. Needs no PyAV.
exec > >(tee "$OUT/log.txt") 2>&1
set -x
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
nvidia-smi -L
timeout 120 python3 benchmarks/gpu_variants.py --arch standard --mode eager --pad-channels > "$OUT/eager_padded.jsonl"
timeout 120 python3 benchmarks/gpu_variants.py --arch standard --mode eager > "$OUT/eager.jsonl"
timeout 170 python3 benchmarks/gpu_variants.py --arch standard --mode max-autotune-no-cudagraphs --batches 8 \
    --pad-channels > "$OUT/compiled_padded.jsonl"
timeout 170 python3 benchmarks/gpu_variants.py --arch standard --mode max-autotune-no-cudagraphs --batches 8 \
    > "$OUT/compiled.jsonl"
grep -h '"fps"' "$OUT"/*.jsonl | cut -c1-200
