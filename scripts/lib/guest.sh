# Sourced by the scripts that boot the test guest (demo, bench, profile-memory-write): the one
# place that turns Fixtures/test-guest.xml into a running domain. Call from the repository root.

# test_guest_disks PREFIX VDA_SIZE VDB_SIZE [DRIVER_ATTRS]: creates the qcow2 images PREFIXvda.qcow2
# and PREFIXvdb.qcow2 and prints their <disk> elements (DRIVER_ATTRS e.g. " cache='none'").
test_guest_disks() {
  local prefix=$1 vda_size=$2 vdb_size=$3 driver_attrs=${4:-} t size
  for t in vda vdb; do
    if [[ $t == vda ]]; then size=$vda_size; else size=$vdb_size; fi
    qemu-img create -q -f qcow2 "$prefix$t.qcow2" "$size" || return
    printf "<disk type='file' device='disk'><driver name='qemu' type='qcow2'%s/><source file='%s'/><target dev='%s' bus='virtio'/></disk>" \
      "$driver_attrs" "$prefix$t.qcow2" "$t"
  done
}

# define_test_guest NAME TYPE MEMORY_MIB GUEST_DIR CMDLINE_EXTRA CONSOLE_LOG DISKS XML_OUT: writes the
# domain XML (GUEST_DIR holds vmlinuz + initrd.img from build-test-guest.sh) to XML_OUT, defines and starts it.
define_test_guest() {
  local name=$1 type=$2 mib=$3 guest_dir=$4 extra=$5 console=$6 disks=$7 xml=$8
  sed -e "s|@NAME@|$name|; s|@TYPE@|$type|; s|@MEMORY_MIB@|$mib|g; s|@KERNEL@|$guest_dir/vmlinuz|; s|@INITRD@|$guest_dir/initrd.img|" \
      -e "s|@CMDLINE_EXTRA@|$extra|; s|@CONSOLE_LOG@|$console|g; s|@DISKS@|$disks|" \
      Fixtures/test-guest.xml >"$xml"
  virsh -q define "$xml" >/dev/null
  virsh -q start "$name" >/dev/null
}
