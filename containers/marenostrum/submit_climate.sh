#!/usr/bin/env bash
# Submit the climate pipeline to MareNostrum 5 with enqueue_compss (see README.md here).
#
#   module load COMPSs/3.4
#   containers/marenostrum/submit_climate.sh [--account A] [--qos Q] [--nodes N] [--exec-time MIN]
#       [--trace] [--graph] [--image pipeline.sif] [--dry-run] [--] <python -m climate_pipeline args>
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
PIPELINE=climate
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
vizpipe_submit "$@"
