# SPDX-License-Identifier: GPL-2.0
# Shared paths and helpers for the pipeline scripts; sourced, never run.
#
# Everything large lives outside the clone, under GMEM_CACHE, so that a fresh
# clone (CI) reuses the unpacked base, the object tree and ccache:
#   $GMEM_CACHE/linux-$KVER/pristine   Debian's source as shipped (read-only)
#   $GMEM_CACHE/linux-$KVER/src        pristine + this repository (edit here)
#   $GMEM_CACHE/linux-$KVER/obj        kbuild O= tree, selftest outputs
#   $GMEM_CACHE/linux-$KVER/obj-NAME   O= tree of flavour NAME (GMEM_FLAVOUR)
#   $GMEM_CACHE/ccache                 compiler cache
# The src path is fixed on purpose: kbuild records absolute source paths in
# O=, so a moving source tree would rebuild everything.

# GMEM_REPO, GMEM_KSRC_TARBALL and GMEM_KVER exist for the pipeline's own
# tests, which run these scripts on a scratch repository and a tiny base.
REPO=${GMEM_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
GMEM_CACHE=${GMEM_CACHE:-$HOME/.cache/gmem-pool}
KSRC_PKG=linux-source-6.12
KSRC_TARBALL=${GMEM_KSRC_TARBALL:-/usr/src/$KSRC_PKG.tar.xz}
RESULTS=${RESULTS:-$REPO/build/results}
JOBS=${JOBS:-$(nproc)}

export CCACHE_DIR=$GMEM_CACHE/ccache
# Paths relative to the build directory: an O= tree beside its source
# ($TREE/obj and $TREE/src, $TREE/series/obj and $TREE/series/src) then
# shares the cache with every other such pair.
export CCACHE_BASEDIR=$GMEM_CACHE
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}

log()  { printf '==> %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# Debian package version of the kernel source, e.g. 6.12.117-1~deb12u1.
ksrc_version()
{
	[ -n "${GMEM_KVER:-}" ] && { echo "$GMEM_KVER"; return; }
	dpkg-query -W -f '${Version}' "$KSRC_PKG" 2>/dev/null ||
		die "$KSRC_PKG is not installed (run 'make deps')"
}

# Directory names are derived from the package version so that a new
# Debian upload gets a tree of its own instead of a half-updated one.
set_tree_paths()
{
	KVER=$(ksrc_version)
	# '~' and ':' from Debian versions have special meanings to make.
	TREE=$GMEM_CACHE/linux-$(printf '%s' "$KVER" | tr '~:' '__')
	PRISTINE=$TREE/pristine
	KSRC=$TREE/src
	KOBJ=$TREE/obj${GMEM_FLAVOUR:+-$GMEM_FLAVOUR}
	MODROOT=$KOBJ/modroot
	# Selftests and uapi headers are built once, in the default tree.
	KST=$TREE/obj/kselftest
}

# Config fragments of the kernel to build: kernel.config, then the
# flavour's own (GMEM_FLAVOUR=kasan: pipeline/kernel-kasan.config).
kernel_fragments()
{
	echo "$REPO/pipeline/kernel.config"
	if [ -n "${GMEM_FLAVOUR:-}" ]; then
		[ -f "$REPO/pipeline/kernel-$GMEM_FLAVOUR.config" ] ||
			die "no pipeline/kernel-$GMEM_FLAVOUR.config for GMEM_FLAVOUR=$GMEM_FLAVOUR"
		echo "$REPO/pipeline/kernel-$GMEM_FLAVOUR.config"
	fi
}

# The config lines of fragment files "$@", the last one per symbol (the
# one merge_config.sh keeps).
last_word_per_symbol()
{
	grep -hE '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set)' "$@" |
		awk '{ s = $0; sub(/^# /, "", s); sub(/[= ].*/, "", s); last[s] = $0
		       if (!(s in seen)) { seen[s] = 1; order[n++] = s } }
		     END { for (i = 0; i < n; i++) print last[order[i]] }'
}

# x86_64_defconfig with kernel_fragments merged in, for tree $1 built in
# O=$2.  Options a tree's Kconfig does not know are dropped by olddefconfig.
merge_kernel_config()
{
	local src=$1 obj=$2 list
	local kmake=(make -C "$src" O="$obj" -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc")
	local -a frags

	# Not in a process substitution: a die there would not stop us.
	list=$(kernel_fragments) || exit 1
	mapfile -t frags <<<"$list"
	mkdir -p "$obj"
	"${kmake[@]}" -s x86_64_defconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "${frags[@]}" >/dev/null
	"${kmake[@]}" -s olddefconfig
}

# Top-level kernel directories this repository overlays (mm/, virt/, ...).
overlay_roots()
{
	local d
	for d in "$REPO"/*/; do
		d=$(basename "$d")
		[ -d "$PRISTINE/$d" ] && echo "$d"
	done
	return 0
}

# Repository files that go into the kernel tree, relative to the repo root.
overlay_files()
{
	local roots
	roots=$(overlay_roots)
	[ -n "$roots" ] || return 0
	(cd "$REPO" && git ls-files --cached --others --exclude-standard -- $roots) |
		while read -r f; do [ -e "$REPO/$f" ] && echo "$f"; done | sort
}

# Serialise pipeline runs that share one cache.  GMEM_LOCK_WAIT=SECONDS
# bounds the wait: past it the run exits with status 4 (a skip).
take_cache_lock()
{
	mkdir -p "$GMEM_CACHE"
	case "${GMEM_LOCK_WAIT:-0}" in
	*[!0-9]*) die "GMEM_LOCK_WAIT=$GMEM_LOCK_WAIT: expected a number of seconds" ;;
	esac
	exec 9>"$GMEM_CACHE/lock"
	if ! flock -n 9; then
		log "another pipeline run holds $GMEM_CACHE/lock; waiting${GMEM_LOCK_WAIT:+ $GMEM_LOCK_WAIT s at most}"
		if [ -z "${GMEM_LOCK_WAIT:-}" ]; then
			flock 9
		elif ! flock -w "$GMEM_LOCK_WAIT" 9; then
			log "$GMEM_CACHE/lock still held after $GMEM_LOCK_WAIT s: giving up (exit 4)"
			exit 4
		fi
	fi
}

# Run a long make with its output in a log; print a progress line every 30 s.
# Returns its status, after the errors and the log's end on failure.
run_logged()
{
	local what=$1 logf=$2 pid t=0 rc=0
	shift 2
	"$@" >"$logf" 2>&1 &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		sleep 5
		t=$((t + 5))
		[ $((t % 30)) -eq 0 ] &&
			log "$what: ${t}s, $(grep -c '^  [A-Z]' "$logf" || true) steps done"
	done
	wait $pid || rc=$?
	if [ $rc -ne 0 ]; then
		grep -E -A3 ': (fatal )?error:|\*\*\* [^[]' "$logf" | head -40 >&2 || true
		tail -20 "$logf" >&2
		log "$what failed (full log: $logf)"
	fi
	return $rc
}

# git on a repository make_base_git() made, without the user's config,
# hooks, attributes or identity from the environment: they would change
# what is committed, applied or written.  A placeholder identity lets
# 'am --abort' write its reflog; callers' -c user.* come later and win.
base_git()
{
	local dir=$1
	shift
	env -u GIT_AUTHOR_NAME -u GIT_AUTHOR_EMAIL -u GIT_COMMITTER_NAME -u GIT_COMMITTER_EMAIL \
		-u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE -u GIT_OBJECT_DIRECTORY \
		-u GIT_ALTERNATE_OBJECT_DIRECTORIES -u GIT_CONFIG_PARAMETERS -u GIT_CONFIG_COUNT \
		GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_SYSTEM=/dev/null \
		git -C "$dir" -c core.hooksPath=/dev/null -c core.attributesFile=/dev/null \
		-c gc.auto=0 -c maintenance.auto=false \
		-c user.name=gmem-pool -c user.email=gmem-pool@localhost "$@"
}

# A git repository of a source tree, for git am: $1: directory to create,
# $2: tree or tarball (one top directory) to fill it from, $3: the base
# commit's message.  The base is committed once, tagged "base", with
# every file, also those its .gitignore names.
make_base_git()
{
	local dir=$1 from=$2 what=$3
	[ -f "$dir/.git/gmem-base-complete" ] && return 0
	log "making a git repository of $what in $dir (a few minutes, once)"
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp"
	if [ -d "$from" ]; then
		cp -a "$from/." "$dir.tmp/"
		rm -f "$dir.tmp/.complete"
	else
		tar -xf "$from" -C "$dir.tmp" --strip-components=1
	fi
	(
		cd "$dir.tmp"
		base_git . init -q --template= -b base-tree
		base_git . config core.autocrlf false
		# Files the base's .gitignore matches are part of the base too.
		base_git . add -A -f
		GIT_AUTHOR_DATE=2000-01-01T00:00:00Z GIT_COMMITTER_DATE=2000-01-01T00:00:00Z \
			base_git . -c user.name=base -c user.email=base@localhost \
			commit -q -m "$what"
		base_git . tag base
		touch .git/gmem-base-complete
	)
	mv "$dir.tmp" "$dir"
}

# Back to the base commit of a repository make_base_git() made: no git am
# in progress, no change, no file that is not in the base but those that
# match the clean exclude pattern $2 (e.g. a build directory inside).
reset_to_base()
{
	local dir=$1 keep=${2:-}

	base_git "$dir" am --abort >/dev/null 2>&1 || true
	base_git "$dir" checkout -q -f --detach base
	base_git "$dir" clean -fdxq ${keep:+-e "$keep"}
}
