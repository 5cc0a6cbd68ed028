source "null" "a" {
  communicator = "none"
}

source "null" "b" {
  communicator = "none"
}

build {
  name    = "grp"
  sources = ["source.null.a", "source.null.b"]

  provisioner "shell-local" {
    inline = ["echo running $PACKER_BUILD_NAME"]
  }
}
