# Sourced by the gpu_*_session.sh scripts on the lent GPU machine (run from the repository root,
# with $OUT set and .whl carried): log everything to $OUT/log.txt, trace each command, and put the
# carried PyAV wheel and this checkout on the path (the machine's Python has torch, not PyAV).
exec > >(tee "$OUT/log.txt") 2>&1
set -x
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
