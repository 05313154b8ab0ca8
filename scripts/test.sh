#!/usr/bin/env bash
# Sets up the host, builds the test guest, builds kvmsnap and runs every test,
# including the integration tests against a real libvirtd. Exit status = the tests'.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/host-setup.sh
KVMSNAP_TEST_GUEST_DIR="$(scripts/build-test-guest.sh | tail -n1)"
export KVMSNAP_TEST_GUEST_DIR
# Integration tests must run here; they fail (not skip) when libvirtd or the guest is missing.
export KVMSNAP_REQUIRE_INTEGRATION=1

swift build --build-tests
# Swift Testing runs suites in parallel; integration suites serialise themselves.
swift test --skip-build "$@"
