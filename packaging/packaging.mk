# Debian packages and systemd services (packaging/README.md). Included by the
# Makefile (`-include packaging/packaging.mk`); until then:
#     make -f Makefile -f packaging/packaging.mk deb
.PHONY: deb deb-all deb-check deb-check-install deb-check-vm

# The architectures `make deb` packages, and `make deb-check` expects:
# `make deb DEB_ARCHES=arm64` builds only the arm64 packages.
DEB_ARCHES ?= amd64 arm64 armhf
export DEB_ARCHES

# peercall and peercall-registry .debs in target/debian/ for each of
# DEB_ARCHES: amd64 built here, arm64 and armhf from the cross builds
# (cross/cross.mk), which run first; cargo makes them no-ops when they are
# up to date. The last lines say what was built and with which Depends.
deb: deps $(if $(filter arm64,$(DEB_ARCHES)),cross-aarch64) $(if $(filter armhf,$(DEB_ARCHES)),cross-armv7 cross-armv6)
	bash packaging/deb.sh

# The cross builds, then all three architectures: what `make deb` now does
# by itself; kept for scripts that name it.
deb-all: deb

# Inspects every package, verifies the units, and runs the services from the
# extracted amd64 packages as their units would (nothing is installed).
deb-check: deb
	bash packaging/check.sh

# The same, then apt-get install ./*.deb on this machine and purge again.
deb-check-install: deb
	bash packaging/check.sh --install

# The amd64 packages under a real systemd in a qemu VM (packaging/vm/run.sh):
# install, readiness, watchdog, low port, the intercom with a virtual camera
# and sound card, purge. Nothing on this machine changes.
deb-check-vm: deb
	bash packaging/vm/run.sh
