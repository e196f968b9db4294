# Debian packages and systemd services (packaging/README.md). Included by the
# Makefile (`-include packaging/packaging.mk`); until then:
#     make -f Makefile -f packaging/packaging.mk deb
.PHONY: deb deb-all deb-check deb-check-install deb-check-vm

# peercall and peercall-registry .debs in target/debian/: amd64 built here;
# arm64 and armhf from the cross builds when present (the last lines say
# which were built and which skipped).
deb: deps
	bash packaging/deb.sh

# The cross builds first (cross/cross.mk), then all three architectures.
deb-all: deps
	$(MAKE) cross-aarch64 cross-armv7
	bash packaging/deb.sh

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
