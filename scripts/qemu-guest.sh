#!/bin/sh
# Builds the QEMU test guest once per machine: a minimal Debian 12 root filesystem from Debian's
# packages (debootstrap), made into a whole-disk ext4 image without mounting anything
# (mkfs.ext4 -d, then qemu-img convert), plus its kernel and initrd for direct kernel boot;
# python3 is in it for the Ansible test.
#
# Usage: qemu-guest.sh OUTDIR
# Produces OUTDIR/disk.qcow2 (written last: its presence means complete), OUTDIR/vmlinuz,
# OUTDIR/initrd.img, OUTDIR/cmdline (kernel command line), OUTDIR/id_ed25519[.pub] (a key
# authorised for root). Root's password is "forge". Needs root, debootstrap, e2fsprogs,
# qemu-utils, openssh-client, and http://deb.debian.org (or MIRROR).
set -eu
OUT=$1
MIRROR=${MIRROR:-http://deb.debian.org/debian}
[ -f "$OUT/disk.qcow2" ] && exit 0
mkdir -p "$OUT"
ROOTFS=$(mktemp -d "$OUT/rootfs.XXXXXX")
trap 'rm -rf "$ROOTFS" "$OUT/disk.raw"' EXIT

debootstrap --variant=minbase \
  --include=linux-image-amd64,initramfs-tools,systemd-sysv,udev,openssh-server,iproute2,netbase,python3 \
  bookworm "$ROOTFS" "$MIRROR" >"$OUT/debootstrap.log" 2>&1 || { tail -30 "$OUT/debootstrap.log" >&2; exit 1; }

echo forge-guest >"$ROOTFS/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 forge-guest\n' >"$ROOTFS/etc/hosts"
echo 'LABEL=root / ext4 defaults 0 1' >"$ROOTFS/etc/fstab"
# DHCP on the NIC through systemd-networkd; boot does not wait for the network.
printf '[Match]\nName=en* eth*\n[Network]\nDHCP=ipv4\n' >"$ROOTFS/etc/systemd/network/80-dhcp.network"
ln -sf /lib/systemd/system/systemd-networkd.service \
  "$ROOTFS/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
ln -sf /dev/null "$ROOTFS/etc/systemd/system/systemd-networkd-wait-online.service"
printf 'PermitRootLogin yes\nPasswordAuthentication yes\nUseDNS no\n' \
  >"$ROOTFS/etc/ssh/sshd_config.d/forge.conf"
chroot "$ROOTFS" sh -c "echo root:forge | chpasswd"
[ -f "$OUT/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C forge-guest -f "$OUT/id_ed25519"
install -d -m 700 "$ROOTFS/root/.ssh"
install -m 600 "$OUT/id_ed25519.pub" "$ROOTFS/root/.ssh/authorized_keys"
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*

cp -L "$ROOTFS/vmlinuz" "$OUT/vmlinuz"
cp -L "$ROOTFS/initrd.img" "$OUT/initrd.img"
echo "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet" >"$OUT/cmdline"

truncate -s 2G "$OUT/disk.raw"
mkfs.ext4 -q -F -L root -d "$ROOTFS" "$OUT/disk.raw"
qemu-img convert -O qcow2 "$OUT/disk.raw" "$OUT/disk.qcow2.tmp"
mv "$OUT/disk.qcow2.tmp" "$OUT/disk.qcow2"
