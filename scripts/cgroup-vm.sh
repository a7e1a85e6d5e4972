#!/usr/bin/env bash
# A small Debian 12 virtual machine (qemu) with systemd and Docker, in which
# foolab's cgroup code meets the hierarchies and drivers this machine has
# not: cgroup v2, and the systemd driver (scenarios/test_cgroup_drivers.py).
# This machine's controllers are all on cgroup v1, and a controller can be
# in one hierarchy only, so v2 needs a kernel of its own. qemu emulates the
# CPU (TCG, about 2 min a boot): this machine's /dev/kvm hangs a guest at
# its first instructions, and emulation needs nothing of the host.
#   cgroup-vm.sh build DIR          DIR/disk.img: the VM's root, made once
#                                   (debootstrap, about 2 min; reused while
#                                   this script is unchanged)
#   cgroup-vm.sh boot DIR CODE 1|2 CASES
#                                   boot it (its disk untouched: -snapshot)
#                                   with cgroup v1 or v2, run CODE's
#                                   vm_cgroup_probe.py for each case
#                                   (cgroupfs:here,systemd:node,...), print
#                                   its result line
set -euo pipefail
MIRROR=${FOOLAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=systemd,systemd-sysv,dbus,udev,kmod,linux-image-amd64,initramfs-tools,docker.io,python3,python3-docker,busybox-static,procps
say() { printf 'foolab: %s\n' "$*" >&2; }
die() { printf 'foolab: error: %s\n' "$*" >&2; exit 1; }

# What the VM runs at boot: the probe from the second disk, its output on
# the serial line, then power off (the test waits for qemu to end).
UNIT='[Unit]
Description=foolab cgroup probe
After=local-fs.target containerd.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/foolab-probe
ExecStopPost=/bin/systemctl --no-block poweroff
[Install]
WantedBy=multi-user.target'
PROBE='#!/bin/sh
exec >/dev/ttyS0 2>&1
mount -o ro /dev/vdb /mnt && cd /mnt && exec python3 -B vm_cgroup_probe.py $(cat /proc/cmdline)'

tools() {  # what building and booting need, installed if missing (root)
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  [ ${#missing[@]} = 0 ] && return
  say "installing ${missing[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } >/dev/null || die "cannot install ${missing[*]}"
}

build() {
  local dir=$1 stamp
  stamp=$(sha256sum "$0" | cut -c1-16)
  if [ -f "$dir/disk.img" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then exit 0; fi
  tools
  mkdir -p "$dir"; rm -rf "$dir/root" "$dir/disk.img" "$dir/stamp"
  say "cgroup VM: debootstrap of Debian 12 with systemd and Docker (about 2 min; log $dir/build.log)"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$dir/root" "$MIRROR" \
    >"$dir/build.log" 2>&1 || { tail -5 "$dir/build.log" >&2; die "debootstrap failed"; }
  printf '%s\n' "$UNIT" >"$dir/root/etc/systemd/system/foolab-probe.service"
  printf '%s\n' "$PROBE" >"$dir/root/usr/local/sbin/foolab-probe"
  chmod 755 "$dir/root/usr/local/sbin/foolab-probe"
  chroot "$dir/root" systemctl enable foolab-probe.service >/dev/null 2>&1
  # the probe starts Docker itself, with the driver it tests
  chroot "$dir/root" systemctl disable docker.service docker.socket >/dev/null 2>&1
  # no login prompt on the serial line: its hang-up would cut the probe's output
  chroot "$dir/root" systemctl mask serial-getty@ttyS0.service getty.target >/dev/null 2>&1
  echo 'foolab-vm' >"$dir/root/etc/hostname"
  cp "$dir"/root/boot/vmlinuz-* "$dir/vmlinuz"; cp "$dir"/root/boot/initrd.img-* "$dir/initrd.img"
  rm -rf "$dir"/root/var/cache/apt/archives/*.deb "$dir"/root/var/lib/apt/lists/*
  mkfs.ext4 -q -F -L foolab-vm -d "$dir/root" "$dir/disk.img" 3G >/dev/null
  rm -rf "$dir/root"
  echo "$stamp" >"$dir/stamp"
  say "cgroup VM: built"
}

boot() {
  local dir=$1 code=$2 version=$3 cases=$4 unified out
  tools
  unified=$([ "$version" = 2 ] && echo 1 || echo 0)
  # apparmor=0: the VM has no apparmor_parser, and Docker refuses to start a
  # container on a kernel with AppArmor on and no profile loaded
  out=$(mktemp -d /var/tmp/foolab-vm.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$out'" EXIT
  mkfs.ext4 -q -F -d "$code" "$out/code.img" 64M >/dev/null
  timeout 600 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 1536 -nodefaults \
    -display none -no-reboot -snapshot -nic none \
    -kernel "$dir/vmlinuz" -initrd "$dir/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 quiet apparmor=0 systemd.unified_cgroup_hierarchy=$unified foolab.cases=$cases" \
    -drive "file=$dir/disk.img,format=raw,if=virtio" \
    -drive "file=$out/code.img,format=raw,if=virtio,readonly=on" \
    -serial "file:$out/console.log" >/dev/null 2>&1 || true
  grep -a '^FOOLAB-RESULT ' "$out/console.log" | tr -d '\r' \
    || { tail -20 "$out/console.log" >&2; die "the cgroup VM gave no result"; }
}

case "${1:-}" in
  build) build "$2" ;;
  boot) boot "$2" "$3" "$4" "$5" ;;
  *) die "usage: cgroup-vm.sh build DIR | boot DIR CODE 1|2 CASES" ;;
esac
