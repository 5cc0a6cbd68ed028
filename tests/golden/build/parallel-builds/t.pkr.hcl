source "null" "a" {
  communicator = "none"
}

source "null" "b" {
  communicator = "none"
}

source "null" "c" {
  communicator = "none"
}

build {
  sources = ["source.null.a", "source.null.b", "source.null.c"]

  provisioner "shell-local" {
    inline = ["echo one at a time: $PACKER_BUILD_NAME", "sleep 0.2"]
  }
}
