# shellcheck shell=bash
# Shared part of the MareNostrum 5 submit scripts (sourced by submit_climate.sh and
# submit_materials.sh, which set PIPELINE and call vizpipe_submit "$@").
#
# Builds one enqueue_compss command (flags as in the COMPSs manual, ../../../shared/PYCOMPSS.md
# in the project's notes) and runs it, or prints it with --dry-run. Settings come from flags,
# else from the environment, else the defaults below. See README.md next to this file.

VIZPIPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"

usage() {
    cat <<EOF
usage: $(basename "$0") [options] [--] <arguments of python -m ${PIPELINE}_pipeline>

Submit the ${PIPELINE} pipeline to SLURM through enqueue_compss (module load COMPSs/3.4).

options (environment variable in brackets, then the default):
  --account NAME       SLURM account / project_name [ACCOUNT] (your primary group)
  --qos NAME           QOS: gp_debug, gp_bscls, gp_resa, ... [QOS] (gp_debug)
  --nodes N            nodes; one runs the COMPSs master [NODES] (2)
  --exec-time MIN      job time limit in minutes [EXEC_TIME] (30)
  --wall-clock S       COMPSs --wall_clock_limit in seconds, below the exec time
                       [WALL_CLOCK] (EXEC_TIME*60 less 10%, at most 300 s less)
  --cpus-per-node N    [CPUS_PER_NODE] (112, a MareNostrum 5 GPP node)
  --log-level L        off | info | debug [LOG_LEVEL] (off)
  --trace              Extrae/Paraver trace (-t) [TRACE=1]
  --graph              task graph (-g) [GRAPH=1]
  --image SIF          run master and workers in this Singularity image [IMAGE] (none)
  --container-opts O   singularity options of the image [CONTAINER_OPTS] (--bind /gpfs)
  --compss-path P      COMPSs inside the image [CONTAINER_COMPSS_PATH] (/opt/COMPSs)
  --after JOBID        start after that job ends (--job_dependency) [AFTER]
  --dry-run            print the enqueue_compss command instead of running it
  -h, --help           this help

INPUT (input files, space separated) and OUT (run directory) are added to the pipeline's
arguments when set and not given there. Put both on GPFS (/gpfs/projects/<group>/... or
/gpfs/scratch/<group>/...): every node must see them. Re-submitting the same command resumes:
frames whose outputs are complete are skipped.
EOF
}

die() {
    echo "error: $*" >&2
    exit 1
}

# One word, shell-quoted only when it needs to be (for --dry-run output).
quote_word() {
    local w=$1
    if [[ -n $w && $w =~ ^[A-Za-z0-9_./=:,+@%-]+$ ]]; then
        printf '%s' "$w"
    else
        printf "'%s'" "${w//\'/\'\\\'\'}"
    fi
}

print_command() {
    local first=1 w
    for w in "$@"; do
        ((first)) || printf ' '
        first=0
        quote_word "$w"
    done
    printf '\n'
}

is_uint() {
    [[ $1 =~ ^[0-9]+$ ]] && (($1 > 0))
}

# Absolute path of $1 (which need not exist yet).
abspath() {
    local p=$1
    [[ $p == "~"* ]] && p="${HOME}${p:1}"
    [[ $p == /* ]] || p="$PWD/$p"
    if [[ -d $p ]]; then
        (cd "$p" && pwd -P)
    elif [[ -d $(dirname "$p") ]]; then
        printf '%s/%s\n' "$(cd "$(dirname "$p")" && pwd -P)" "$(basename "$p")"
    else
        printf '%s\n' "$p"
    fi
}

# The pipeline's arguments with --out and every existing file or folder made absolute
# (the job starts in another working directory).
absolute_args() {
    local a expect_out=0
    APP_ARGS=()
    for a in "$@"; do
        if ((expect_out)); then
            APP_ARGS+=("$(abspath "$a")")
            expect_out=0
        elif [[ $a == --out ]]; then
            APP_ARGS+=("$a")
            expect_out=1
        elif [[ $a == --out=* ]]; then
            APP_ARGS+=("--out=$(abspath "${a#--out=}")")
        elif [[ $a != -* && -e $a ]]; then
            APP_ARGS+=("$(abspath "$a")")
        else
            APP_ARGS+=("$a")
        fi
    done
}

# Value of --out in the pipeline's arguments ("" if none).
out_of() {
    local prev="" a
    for a in "$@"; do
        [[ $prev == --out ]] && { printf '%s' "$a"; return; }
        [[ $a == --out=* ]] && { printf '%s' "${a#--out=}"; return; }
        prev=$a
    done
}

vizpipe_submit() {
    local account=${ACCOUNT:-} qos=${QOS:-gp_debug} nodes=${NODES:-2}
    local exec_time=${EXEC_TIME:-30} wall_clock=${WALL_CLOCK:-} cpus=${CPUS_PER_NODE:-112}
    local log_level=${LOG_LEVEL:-off} trace=${TRACE:-0} graph=${GRAPH:-0}
    local image=${IMAGE:-} copts=${CONTAINER_OPTS:---bind /gpfs}
    local compss_path=${CONTAINER_COMPSS_PATH:-/opt/COMPSs} after=${AFTER:-} dry=0
    local -a rest=()
    while (($#)); do
        case $1 in
            -h | --help) usage; exit 0 ;;
            --account | --qos | --nodes | --exec-time | --wall-clock | --cpus-per-node | \
                --log-level | --image | --container-opts | --compss-path | --after)
                (($# >= 2)) || die "$1 needs a value"
                case $1 in
                    --account) account=$2 ;; --qos) qos=$2 ;; --nodes) nodes=$2 ;;
                    --exec-time) exec_time=$2 ;; --wall-clock) wall_clock=$2 ;;
                    --cpus-per-node) cpus=$2 ;; --log-level) log_level=$2 ;;
                    --image) image=$2 ;; --container-opts) copts=$2 ;;
                    --compss-path) compss_path=$2 ;; --after) after=$2 ;;
                esac
                shift 2 ;;
            --trace) trace=1; shift ;;
            --graph) graph=1; shift ;;
            --dry-run) dry=1; shift ;;
            --) shift; rest+=("$@"); break ;;
            *) rest+=("$1"); shift ;;
        esac
    done

    [[ -n $account ]] || account=$(id -gn)
    is_uint "$nodes" || die "NODES/--nodes: expected a whole number >= 1, got '$nodes'"
    is_uint "$exec_time" || die "EXEC_TIME/--exec-time: expected minutes >= 1, got '$exec_time'"
    is_uint "$cpus" || die "CPUS_PER_NODE/--cpus-per-node: expected a whole number >= 1, got '$cpus'"
    if [[ -z $wall_clock ]]; then
        local total=$((exec_time * 60)) margin=$((exec_time * 6))
        ((margin > 300)) && margin=300
        ((margin < 1)) && margin=1
        wall_clock=$((total - margin))
    fi
    is_uint "$wall_clock" || die "WALL_CLOCK/--wall-clock: expected seconds >= 1, got '$wall_clock'"
    ((wall_clock < exec_time * 60)) ||
        die "WALL_CLOCK/--wall-clock: $wall_clock s must be below the exec time ($exec_time min = $((exec_time * 60)) s) so COMPSs stops before SLURM kills the job"
    case $log_level in off | info | debug) ;; *) die "LOG_LEVEL/--log-level: expected off, info or debug, got '$log_level'" ;; esac
    [[ -z $after || $after =~ ^[0-9]+$ ]] || die "AFTER/--after: expected a SLURM job id, got '$after'"

    # INPUT and OUT from the environment when the arguments have none
    if [[ -z $(out_of "${rest[@]}") ]]; then
        [[ -n ${OUT:-} ]] || die "no run directory: give --out DIR (on /gpfs) or set OUT"
        rest+=(--out "$OUT")
    fi
    if [[ -n ${INPUT:-} ]]; then
        local -a inputs
        read -r -a inputs <<<"$INPUT"
        rest=("${inputs[@]}" "${rest[@]}")
    fi
    absolute_args "${rest[@]}"
    local out
    out=$(out_of "${APP_ARGS[@]}")
    [[ $out == /gpfs/* ]] ||
        echo "note: run directory $out is not on /gpfs: the worker nodes may not see it" >&2

    local app="$VIZPIPE_ROOT/${PIPELINE}_pipeline/app.py"
    [[ -f $app ]] || die "$app: the COMPSs application file is missing"
    local -a cmd=(enqueue_compss "--project_name=$account" "--qos=$qos" "--num_nodes=$nodes"
        "--exec_time=$exec_time" "--wall_clock_limit=$wall_clock" "--cpus_per_node=$cpus"
        "--job_name=vizpipe-$PIPELINE" --worker_working_dir=shared_disk
        "--log_level=$log_level" --lang=python "--pythonpath=$VIZPIPE_ROOT")
    [[ -n $after ]] && cmd+=("--job_dependency=$after")
    [[ $trace == 1 ]] && cmd+=(-t)
    [[ $graph == 1 ]] && cmd+=(-g)
    if [[ -n $image ]]; then
        [[ $dry == 1 || -f $image ]] || die "IMAGE/--image: $image: no such file"
        cmd+=("--container_image=$(abspath "$image")" "--container_compss_path=$compss_path"
            "--container_opts=$copts")
    fi
    cmd+=("$app" "${APP_ARGS[@]}")

    if ((dry)); then
        print_command "${cmd[@]}"
        return 0
    fi
    command -v enqueue_compss >/dev/null 2>&1 ||
        die "enqueue_compss not found: run 'module load COMPSs/3.4' first (or use --dry-run)"
    exec "${cmd[@]}"
}
