#!/usr/bin/env bash
# Runs once inside the new conda environment (Snakemake: <env>.post-deploy.sh beside <env>.yaml).
# Installs this checkout's `ems` package (editable), with its dependencies from pyproject.toml, by absolute
# path: $EMS_ROOT (set by the workflow to the Snakefile's folder), else the working directory.
set -euo pipefail
root="${EMS_ROOT:-$PWD}"
if [ ! -f "$root/pyproject.toml" ] || [ ! -d "$root/ems" ]; then
  echo "envs/ems.post-deploy.sh: $root is not the ems-workflow checkout (set EMS_ROOT to it)" >&2
  exit 2
fi
python -m pip install --no-cache-dir -e "$root[postgres,official]"  # editable: the rules run the checkout's code
python -c "import ems, torch; print('ems', ems.__version__, 'from', ems.__file__, '| torch', torch.__version__)"
