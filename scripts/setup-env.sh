#!/usr/bin/env bash
# Create the project's virtual environment with a CPU build of torch (installed first, so the
# rest of the stack reuses it instead of pulling a multi-gigabyte CUDA build), then the project
# with its training and test extras. Set TORCH_SPEC to choose another torch (e.g. a CUDA build).
set -euo pipefail
venv=${1:-.venv}
python=${2:-python3}
torch_spec=${TORCH_SPEC:-torch==2.13.0}
cpu_index=${TORCH_CPU_INDEX:-}

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
pip_install() {
  # Some machines' pip configuration points at local index folders that may be absent; pip then
  # prints a warning per package. Keep the output readable; real errors still fail the script.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" 2>&1 \
    | { grep -v "^WARNING: Location '" || true; }
}
if ! "$venv/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "visualact: installing $torch_spec (CPU) ..."
  if [ -n "$cpu_index" ]; then
    pip_install "$torch_spec" --index-url "$cpu_index"
  else
    pip_install "$torch_spec"
  fi
fi
echo "visualact: installing the project and its extras ..."
pip_install -e ".[train,test]"
# PyPI's torchvision is a CUDA build that breaks imports next to the CPU torch (see FACTS).
if "$venv/bin/python" -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('torchvision') else 1)"; then
  echo "visualact: removing torchvision (a CUDA build that breaks the CPU stack)"
  "$venv/bin/python" -m pip uninstall --quiet -y torchvision
fi
echo "visualact: environment ready in $venv"
