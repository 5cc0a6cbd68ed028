# A QEMU disk image made from another one: boot it, provision it over SSH, shut it down, and
# write the result as qcow2 into var.output_dir. Needs qemu-system-x86 and qemu-utils (KVM when
# /dev/kvm opens, else TCG: slower, but it works in VMs without nested virtualisation; set
# var.accelerator to choose).
#
# The source disk must boot on its own (or with var.kernel and friends, for a bare root
# filesystem) and let var.ssh_username in with var.ssh_private_key_file or var.ssh_password.
# The tests use the Debian guest tests/support/qemu-guest.sh builds:
#
#   G=/var/tmp/forge-test-guest
#   forge build -var disk_image=$G/disk.qcow2 -var ssh_private_key_file=$G/id_ed25519 \
#     -var kernel=$G/vmlinuz -var initrd=$G/initrd.img -var "kernel_cmdline=$(cat $G/cmdline)" \
#     -var accelerator=tcg examples/qemu
variable "disk_image" {
  type        = string
  description = "Path or URL of the disk image to start from"
}

variable "disk_checksum" {
  type        = string
  default     = "none"
  description = "Its checksum (sha256:..., file:URL, or none)"
}

variable "ssh_username" {
  type    = string
  default = "root"
}

variable "ssh_private_key_file" {
  type    = string
  default = ""
}

variable "ssh_password" {
  type      = string
  default   = ""
  sensitive = true
}

variable "kernel" {
  type        = string
  default     = ""
  description = "For direct kernel boot: a kernel for -kernel (empty: boot the disk)"
}

variable "initrd" {
  type    = string
  default = ""
}

variable "kernel_cmdline" {
  type    = string
  default = ""
}

variable "accelerator" {
  type        = string
  default     = ""
  description = "kvm, tcg, ... (empty: kvm when /dev/kvm opens, else tcg)"
}

variable "output_dir" {
  type    = string
  default = "output-qemu"
}

locals {
  direct_boot = var.kernel == "" ? [] : [
    ["-kernel", var.kernel],
    ["-initrd", var.initrd],
    ["-append", var.kernel_cmdline],
  ]
}

source "qemu" "debian" {
  disk_image           = true
  iso_url              = var.disk_image
  iso_checksum         = var.disk_checksum
  use_backing_file     = false
  accelerator          = var.accelerator
  headless             = true
  memory               = 1024
  cpus                 = 2
  qemuargs             = local.direct_boot
  boot_wait            = "1s"
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_password         = var.ssh_password
  ssh_timeout          = "5m"
  shutdown_command     = "poweroff"
  output_directory     = var.output_dir
  vm_name              = "image.qcow2"
  format               = "qcow2"
}

build {
  sources = ["source.qemu.debian"]

  provisioner "shell" {
    inline = [
      "uname -r",
      "echo 'built by forge' > /etc/forge-example",
    ]
  }
}
