#!/usr/bin/env bash
# Creates bench/.archon-ai-venv with the original Archon (archon-ai 0.1.4 from PyPI), so that
# bench/run.py can drive it side by side with this engine. Safe to run again: it only installs
# what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.archon-ai-venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('archon-ai') == '0.1.4'" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet "archon-ai==0.1.4"
fi
"$venv/bin/python" -c "import importlib.metadata as m; print('archon-ai', m.version('archon-ai'), 'in', '$venv')"
