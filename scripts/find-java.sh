# shellcheck shell=bash disable=SC2034  # the QF_* variables are this script's output to its caller
#
# Finds a JDK 21+ for the quantflow launcher (./quantflow), CI (.ci/run) and the benchmark
# script (bench/run.sh). Sourced, not run; safe under `set -euo pipefail`; bash 3.2 compatible.
#
#   qf_find_java [PREFERRED_HOME...]
#       Tries, in order: each PREFERRED_HOME that exists, $JAVA_HOME, `java` on PATH, then the
#       newest JDK installed under /usr/lib/jvm (or /Library/Java/JavaVirtualMachines on macOS;
#       QF_JAVA_INSTALLS, a space-separated list of glob patterns, replaces those two).
#       The first that is a JDK (java and javac) of version 21 or newer wins: sets QF_JAVA_HOME,
#       QF_JAVA (its bin/java) and QF_JAVA_VERSION, and returns 0. Otherwise returns 1 and leaves
#       in QF_JAVA_REPORT one line per candidate saying why it was not taken.
#
#   qf_java_missing_help
#       Prints, on stderr, what is missing and how to install it.

QF_JAVA_MIN=21
QF_JAVA_HOME=''
QF_JAVA=''
QF_JAVA_VERSION=''
QF_JAVA_REPORT=''

# The version of the Java installation at a home (21.0.5, 25, 1.8.0_402), or nothing.
qf_java_version_of_home() {
    local home=$1 v=
    if [ -r "$home/release" ]; then
        v=$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$home/release" | head -n 1)
    fi
    if [ -z "$v" ] && [ -x "$home/bin/java" ]; then
        v=$("$home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.version = //p' | head -n 1)
    fi
    printf '%s' "$v"
}

# Major version of a version string: 21.0.5 -> 21, 1.8.0_402 -> 8, 26-ea -> 26.
qf_java_major() {
    local v=$1 major
    case $v in 1.*) v=${v#1.} ;; esac
    major=${v%%[!0-9]*}
    printf '%s' "${major:-0}"
}

# A key that sorts versions as strings: 21.0.5 -> 000210000000005.
qf_java_version_key() {
    local v=$1 a b c
    case $v in 1.*) v=${v#1.} ;; esac
    a=${v%%[!0-9]*}; v=${v#"$a"}; v=${v#[._]}
    b=${v%%[!0-9]*}; v=${v#"$b"}; v=${v#[._]}
    c=${v%%[!0-9]*}
    printf '%05d%05d%05d' "$((10#${a:-0}))" "$((10#${b:-0}))" "$((10#${c:-0}))"
}

qf_java_note() {
    QF_JAVA_REPORT="${QF_JAVA_REPORT}  - $1
"
}

# Is the home a JDK >= QF_JAVA_MIN? Returns 0 and sets QF_JAVA_*, or notes why not (label: where it came from).
qf_java_accept() {
    local home=$1 label=$2 version major
    if [ ! -x "$home/bin/java" ]; then
        qf_java_note "$label: $home has no bin/java"
        return 1
    fi
    version=$(qf_java_version_of_home "$home")
    major=$(qf_java_major "$version")
    if [ "$major" -lt "$QF_JAVA_MIN" ]; then
        qf_java_note "$label: $home is Java ${version:-of unknown version}, older than $QF_JAVA_MIN"
        return 1
    fi
    if [ ! -x "$home/bin/javac" ]; then
        qf_java_note "$label: $home is a Java $version runtime without javac (a JDK is needed to build)"
        return 1
    fi
    QF_JAVA_HOME=$home
    QF_JAVA=$home/bin/java
    QF_JAVA_VERSION=$version
    return 0
}

# Follows symbolic links to the real file (readlink -f is missing on older macOS).
qf_java_resolve() {
    local p=$1 target
    while [ -L "$p" ]; do
        target=$(readlink "$p")
        case $target in
            /*) p=$target ;;
            *) p=$(dirname "$p")/$target ;;
        esac
    done
    printf '%s' "$p"
}

# The home of the `java` on PATH, or nothing.
qf_java_home_on_path() {
    local java real home
    java=$(command -v java 2>/dev/null) || return 0
    real=$(qf_java_resolve "$java")
    home=$(cd "$(dirname "$real")/.." 2>/dev/null && pwd -P) || home=
    if [ -z "$home" ] || [ ! -r "$home/release" ]; then
        # a stub (macOS /usr/bin/java) or a layout without a release file: ask the JVM itself
        home=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.home = //p' | head -n 1)
    fi
    printf '%s' "$home"
}

qf_find_java() {
    local home best='' best_key='' key dir real seen=" " path_home
    QF_JAVA_HOME='' QF_JAVA='' QF_JAVA_VERSION='' QF_JAVA_REPORT=''

    for home in "$@"; do
        if [ -d "$home" ] && qf_java_accept "$home" "preferred"; then
            return 0
        fi
    done

    if [ -n "${JAVA_HOME:-}" ]; then
        qf_java_accept "${JAVA_HOME%/}" "JAVA_HOME" && return 0
    else
        qf_java_note "JAVA_HOME: not set"
    fi

    path_home=$(qf_java_home_on_path)
    if [ -n "$path_home" ]; then
        qf_java_accept "$path_home" "java on PATH" && return 0
    else
        qf_java_note "java on PATH: none"
    fi

    # shellcheck disable=SC2086 # the patterns are meant to be split and expanded
    for dir in ${QF_JAVA_INSTALLS:-/usr/lib/jvm/* /Library/Java/JavaVirtualMachines/*/Contents/Home}; do
        if [ ! -d "$dir" ] || [ ! -x "$dir/bin/java" ]; then
            continue
        fi
        real=$(cd "$dir" && pwd -P) || continue
        case $seen in *" $real "*) continue ;; esac
        seen="$seen$real "
        key=$(qf_java_version_key "$(qf_java_version_of_home "$dir")")
        if [ -z "$best" ] || [[ $key > $best_key ]]; then
            # only a usable JDK may win; a newer runtime without javac is noted and passed over
            if qf_java_accept "$dir" "installed"; then
                best=$dir
                best_key=$key
            fi
        fi
    done
    if [ -n "$best" ]; then
        qf_java_accept "$best" "installed"
        return 0
    fi
    if [ -z "$seen" ] || [ "$seen" = " " ]; then
        qf_java_note "installed: no JDK under ${QF_JAVA_INSTALLS:-/usr/lib/jvm or /Library/Java/JavaVirtualMachines}"
    fi
    QF_JAVA_HOME='' QF_JAVA='' QF_JAVA_VERSION=''
    return 1
}

qf_java_missing_help() {
    cat >&2 <<EOF
quantflow needs a JDK $QF_JAVA_MIN or newer (java and javac) and found none:
${QF_JAVA_REPORT}Install one, then run again (or set JAVA_HOME to it):
  Debian 13, Ubuntu 22.04+:  sudo apt-get install openjdk-21-jdk-headless
  Fedora, RHEL 9:            sudo dnf install java-21-openjdk-devel
  macOS (Homebrew):          brew install openjdk@21
  any system:                https://adoptium.net (Temurin 21 or 25), or: sdk install java 21-tem
EOF
}
