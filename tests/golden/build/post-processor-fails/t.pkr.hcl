source "file" "copy" {
  content = "artifact"
  target  = "copied.txt"
}

source "null" "n" {
  communicator = "none"
}

build {
  sources = ["source.file.copy", "source.null.n"]

  post-processor "shell-local" {
    inline = [
      "echo pp for $PACKER_BUILD_NAME",
      "sleep 0.3",
      "if [ $PACKER_BUILD_NAME = n ]; then exit 7; fi",
    ]
  }
}
