variable "secret" {
  type      = string
  default   = "hunter2"
  sensitive = true
}

source "null" "one" {
  communicator = "none"
}

source "file" "two" {
  content = "hello from the file builder"
  target  = "out.txt"
}

build {
  sources = ["source.null.one", "source.file.two"]

  # stdout and stderr are read concurrently: the sleeps keep their order fixed.
  provisioner "shell-local" {
    inline = [
      "echo \"out: ${source.name} $PACKER_BUILD_NAME $PACKER_BUILDER_TYPE\"",
      "sleep 0.3",
      "echo 'err: on stderr' >&2",
      "sleep 0.3",
      "echo 'secret: ${var.secret}'",
    ]
  }
}
