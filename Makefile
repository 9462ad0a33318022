# SPDX-License-Identifier: GPL-2.0
# Entry points.  The work is in pipeline/*.sh; see README.md.

P := pipeline

.PHONY: all deps tree build demo check check-configs check-kasan distro-build bench stress series series-check qemu-series-check refresh reset-tree clean help
.NOTPARALLEL:

all: deps build demo			## install, build, run the demo (the main job)

deps:					## install missing Debian packages (root)
	@$(P)/deps.sh

tree: deps				## assemble linux-source-6.12 + this repo
	@$(P)/assemble.sh

build: tree				## bzImage, headers, selftests, patched QEMU, test guest
	@$(P)/build-kernel.sh
	@$(P)/build-qemu.sh

demo: build				## boot the kernel and show the feature
	@$(P)/demo.sh

check: build				## boot once, run every test, print the summary
	@$(P)/check.sh

check-configs: build			## THP-off and pool-off kernels: build, boot, tests-{nothp,nopool}.list
	@$(P)/check-configs.sh

check-kasan: build			## KASAN+lockdep+DEBUG_VM kernel: build, boot, the whole of tests.list
	@CHECK_FLAVOURS=kasan CHECK_TESTS_LIST=$(CURDIR)/$(P)/tests.list \
		CHECK_TIMEOUT=$${CHECK_TIMEOUT:-7200} GUEST_TIMEOUT_SCALE=3 $(P)/check-configs.sh

distro-build: tree			## Debian's amd64, cloud-amd64, rt-amd64 configs: vmlinux + KVM modules
	@$(P)/distro-build.sh

bench: build				## secretmem reuse; guest_memfd a/b/c/d side by side: table, CSV, plots
	@$(P)/boot.sh pipeline/guest/bench.sh 1800 && cat build/results/job.log
	@$(P)/scan-log.sh build/results/console.log
	@$(P)/bench/plot.sh build/results/bench.csv build/results

stress: build				## KASAN kernel: VM churn under memory pressure (STRESS_SECONDS=600)
	@$(P)/stress.sh

series: tree				## the kernel patch series with its cover letter in build/series/
	@$(P)/series.sh

series-check: series			## apply, build and checkpatch each patch (BASE=orig: Debian's .orig)
	@$(P)/series-check.sh

qemu-series-check: deps			## git am, build and checkpatch each patch of qemu-patches/
	@$(P)/qemu-series-check.sh

refresh:				## write edits in build/linux back into the repo
	@$(P)/refresh.sh

reset-tree:				## discard edits in build/linux
	@GMEM_DISCARD_TREE_EDITS=1 $(P)/assemble.sh

clean:					## remove build/ in this clone (caches stay)
	rm -rf build

help:
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'
