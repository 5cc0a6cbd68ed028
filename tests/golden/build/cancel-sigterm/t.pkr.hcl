source "null" "slow" {
  communicator = "none"
}

source "null" "fast" {
  communicator = "none"
}

build {
  sources = ["source.null.slow", "source.null.fast"]

  provisioner "shell-local" {
    inline = ["echo start", "if [ $PACKER_BUILD_NAME = slow ]; then sleep 10; fi", "echo end"]
  }
}
