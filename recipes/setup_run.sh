# Sourced by the accelerator recipes, from the repository root, after they set W (the work
# folder, with run.log), T0 and log(): puts diffill and the wheels it needs on the path,
# finds the Python source to train on (ROOTS), logs the machine, and builds the corpus in
# $W/corpus with the shipped tokenizer (the block model appends its FIM sentinels itself).

# Packages the machine lacks travel as wheels in .whl; diffill itself is put on the path
# as its namespace (model/ is diffill.model, server/ is diffill.server), no install.
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$W/site" .whl/*.whl || exit 1
fi
mkdir -p "$W/pkg/diffill"
ln -s "$PWD/model" "$W/pkg/diffill/model"
ln -s "$PWD/server" "$W/pkg/diffill/server"
export PYTHONPATH="$W/pkg:$W/site${PYTHONPATH:+:$PYTHONPATH}"
diffill() { python3 -m diffill.server.cli "$@"; }

if [ -z "${ROOTS:-}" ]; then
    ROOTS="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"
    ROOTS="$ROOTS $(python3 -c 'import site; print(" ".join(site.getsitepackages()))')"
fi
log "python: $(python3 --version), torch $(python3 -c 'import torch; print(torch.__version__)')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee -a "$W/run.log"
log "roots: $ROOTS"

# The corpus.
python3 - "$W/corpus" $ROOTS <<'EOF' 2>&1 | tee -a "$W/run.log" || exit 1
import sys
from diffill.model.training import corpus
from diffill.model.tokenizer import CodeTokenizer
tok = CodeTokenizer.from_file("model/weights/default/tokenizer.json")
corpus.build(sys.argv[2:], sys.argv[1], tok)
EOF
log "corpus built"
